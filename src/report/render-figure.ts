// A Vega-Lite specification to SVG and PNG without a browser: vega-lite compiles it to Vega,
// a headless Vega view (renderer 'none', text measured by Vega's estimate) draws the SVG, and
// resvg rasterises that SVG at twice its size for print and slides.

import type { Spec } from 'vega';
import type { TopLevelSpec } from 'vega-lite';

export interface RenderedFigure {
  svg: string;
  png: Buffer;
  /** The SVG's own size in CSS pixels (the PNG is twice as large). */
  width: number;
  height: number;
}

type Logger = NonNullable<NonNullable<Parameters<typeof import('vega-lite').compile>[1]>['logger']>;

/** Keeps vega-lite's warnings instead of printing them. */
class WarningLog implements Logger {
  readonly warnings: string[] = [];
  level(): number {
    return 0;
  }
  warn(...args: unknown[]): this {
    this.warnings.push(args.map(String).join(' '));
    return this;
  }
  error(...args: unknown[]): this {
    throw new Error(`vega-lite: ${args.map(String).join(' ')}`);
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}

export async function renderFigure(spec: TopLevelSpec): Promise<RenderedFigure> {
  // Loaded here, not at the top: every `skybridge` command imports this file's importers, and
  // only the report draws.
  const [{ Resvg }, { parse, View }, { compile }] = await Promise.all([
    import('@resvg/resvg-js'),
    import('vega'),
    import('vega-lite'),
  ]);
  // A warning means the figure is not what the spec says (an unknown field, a dropped
  // encoding): fail rather than publish it.
  const log = new WarningLog();
  const vg = compile(spec, { logger: log }).spec;
  if (log.warnings.length > 0) throw new Error(`vega-lite: ${log.warnings.join('; ')}`);
  const view = new View(parse(vg as Spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const image = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: 2 },
      background: 'white',
      font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans' },
    }).render();
    return {
      svg,
      png: image.asPng(),
      width: image.width / 2,
      height: image.height / 2,
    };
  } finally {
    view.finalize();
  }
}
