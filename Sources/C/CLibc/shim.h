// glibc knobs that Swift's Glibc module does not expose.
#include <malloc.h>
#include <stdio.h>

/// Line-buffer stdout so progress reaches pipes and log files as it happens.
static inline void tacit_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
