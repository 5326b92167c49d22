//! dracut-install with our library (filled in below).
