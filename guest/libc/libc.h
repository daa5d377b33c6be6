/* Everything a guest program needs: #include "libc.h". */
#pragma once
#include "fmt.h"
#include "linux.h"
#include "string.h"
