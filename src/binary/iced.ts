// The one place that loads iced-x86 (a CommonJS WebAssembly package). Every iced object we
// create must be freed with .free(): they live in WebAssembly memory, not the JS heap.
import iced from 'iced-x86';

export const {
  BlockEncoder,
  BlockEncoderOptions,
  Code,
  Decoder,
  DecoderOptions,
  EncodingKind,
  Encoder,
  FlowControl,
  Formatter,
  FormatterSyntax,
  Instruction,
  InstructionInfoFactory,
  MemoryOperand,
  Mnemonic,
  OpKind,
  Register,
  RegisterExt,
} = iced;

export type IcedInstruction = InstanceType<typeof iced.Instruction>;
export type IcedDecoder = InstanceType<typeof iced.Decoder>;
export type IcedFormatter = InstanceType<typeof iced.Formatter>;

/** Runs fn with a fresh object and frees it afterwards, even when fn throws. */
export function using<T extends { free(): void }, R>(obj: T, fn: (o: T) => R): R {
  try {
    return fn(obj);
  } finally {
    obj.free();
  }
}
