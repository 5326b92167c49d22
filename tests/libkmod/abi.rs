//! ABI check against real programs (filled in below).
