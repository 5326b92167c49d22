//! The decoders of the system's `libzstd.so.1`, `liblzma.so.5` and
//! `libz.so.1`, opened when first needed. The structures passed to the
//! first two are the bindings' own (`zstd-sys`, `liblzma-sys`), so their
//! layout is the headers'; zlib's one structure is written out below. Only
//! the functions are looked up at run time.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::NonNull;
use std::sync::OnceLock;

use liblzma_sys as lzma;
use zstd::zstd_safe::zstd_sys::{ZSTD_inBuffer, ZSTD_outBuffer};

use super::Failure;

/// Output is grown in steps of at least this much.
const STEP: usize = 256 * 1024;

/// Room for the decoder to write into: `out`'s spare capacity after
/// growing it, but never past `limit` and one byte (a grown Vec can have
/// as much spare room as it holds; a bomb would fill all of it).
fn room(out: &mut Vec<u8>, limit: u64) -> (*mut u8, usize) {
    out.reserve(STEP);
    let allowed = limit.saturating_add(1).saturating_sub(out.len() as u64);
    let spare = out.spare_capacity_mut();
    let len = spare
        .len()
        .min(usize::try_from(allowed).unwrap_or(usize::MAX));
    (spare.as_mut_ptr().cast(), len)
}

/// A shared library opened for good, and the functions read from it.
fn open(soname: &CStr) -> Result<NonNull<c_void>, String> {
    // SAFETY: dlopen takes a NUL-terminated name; the handle is never closed.
    let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    NonNull::new(handle)
        .ok_or_else(|| format!("cannot load {}: {}", soname.to_string_lossy(), dl_error()))
}

/// The functions `read` takes from `soname`, looked up once per process;
/// a failure is kept and given again.
fn library<T>(
    cell: &'static OnceLock<Result<T, String>>,
    soname: &CStr,
    read: impl FnOnce(NonNull<c_void>) -> Result<T, String>,
) -> Result<&'static T, String> {
    cell.get_or_init(|| read(open(soname)?))
        .as_ref()
        .map_err(Clone::clone)
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated message.
    let msg = unsafe { libc::dlerror() };
    if msg.is_null() {
        return "unknown error".into();
    }
    // SAFETY: checked non-null above; copied before any other dl call.
    unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}

/// The address of `name` in `lib`, as a function pointer of type `F`.
///
/// # Safety
/// `F` must be an `extern "C" fn` type matching the symbol's C declaration.
unsafe fn symbol<F: Copy>(lib: NonNull<c_void>, name: &CStr) -> Result<F, String> {
    let addr = libc::dlsym(lib.as_ptr(), name.as_ptr());
    if addr.is_null() {
        return Err(format!(
            "no {} in the library: {}",
            name.to_string_lossy(),
            dl_error()
        ));
    }
    debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    Ok(std::mem::transmute_copy(&addr))
}

// --- zstd -----------------------------------------------------------------

struct ZstdLib {
    create_dctx: unsafe extern "C" fn() -> *mut c_void,
    free_dctx: unsafe extern "C" fn(*mut c_void) -> usize,
    decompress_dctx:
        unsafe extern "C" fn(*mut c_void, *mut c_void, usize, *const c_void, usize) -> usize,
    decompress_stream:
        unsafe extern "C" fn(*mut c_void, *mut ZSTD_outBuffer, *mut ZSTD_inBuffer) -> usize,
    frame_content_size: unsafe extern "C" fn(*const c_void, usize) -> u64,
    frame_compressed_size: unsafe extern "C" fn(*const c_void, usize) -> usize,
    is_error: unsafe extern "C" fn(usize) -> u32,
    error_name: unsafe extern "C" fn(usize) -> *const c_char,
}

/// Content sizes at and above this are zstd's "unknown" and "error".
const SIZE_UNKNOWN: u64 = u64::MAX - 1;

fn zstd_lib() -> Result<&'static ZstdLib, String> {
    static LIB: OnceLock<Result<ZstdLib, String>> = OnceLock::new();
    library(&LIB, c"libzstd.so.1", |lib| {
        // SAFETY: each type is the function's declaration in zstd.h.
        unsafe {
            Ok(ZstdLib {
                create_dctx: symbol(lib, c"ZSTD_createDCtx")?,
                free_dctx: symbol(lib, c"ZSTD_freeDCtx")?,
                decompress_dctx: symbol(lib, c"ZSTD_decompressDCtx")?,
                decompress_stream: symbol(lib, c"ZSTD_decompressStream")?,
                frame_content_size: symbol(lib, c"ZSTD_getFrameContentSize")?,
                frame_compressed_size: symbol(lib, c"ZSTD_findFrameCompressedSize")?,
                is_error: symbol(lib, c"ZSTD_isError")?,
                error_name: symbol(lib, c"ZSTD_getErrorName")?,
            })
        }
    })
}

impl ZstdLib {
    fn error(&self, code: usize) -> Option<String> {
        // SAFETY: both take any value; the name is a static string.
        unsafe {
            if (self.is_error)(code) == 0 {
                return None;
            }
            let name = (self.error_name)(code);
            Some(if name.is_null() {
                format!("error {code}")
            } else {
                CStr::from_ptr(name).to_string_lossy().into_owned()
            })
        }
    }
}

/// A zstd decoding context kept from one module to the next.
#[derive(Default)]
pub(crate) struct Zstd(Option<Dctx>);

struct Dctx {
    ptr: NonNull<c_void>,
    lib: &'static ZstdLib,
}

// SAFETY: a ZSTD_DCtx belongs to whoever holds it; it is never shared.
unsafe impl Send for Dctx {}

impl Dctx {
    fn new(lib: &'static ZstdLib) -> Option<Dctx> {
        // SAFETY: no arguments; NULL means no memory.
        let ptr = NonNull::new(unsafe { (lib.create_dctx)() })?;
        Some(Dctx { ptr, lib })
    }
}

impl Drop for Dctx {
    fn drop(&mut self) {
        // SAFETY: made by ZSTD_createDCtx, freed once.
        unsafe { (self.lib.free_dctx)(self.ptr.as_ptr()) };
    }
}

/// A single zstd frame whose size is recorded in its header, straight into
/// an output of that size. None: not such a frame, larger than `limit`,
/// corrupt, or no libzstd (the caller then takes the streaming path, which
/// says which).
pub(crate) fn zstd_frame(raw: &[u8], out: &mut Vec<u8>, ctx: &mut Zstd, limit: u64) -> Option<()> {
    let lib = zstd_lib().ok()?;
    // SAFETY: both read `raw` within its length.
    let (size, frame) = unsafe {
        (
            (lib.frame_content_size)(raw.as_ptr().cast(), raw.len()),
            (lib.frame_compressed_size)(raw.as_ptr().cast(), raw.len()),
        )
    };
    if size >= SIZE_UNKNOWN || lib.error(frame).is_some() || frame != raw.len() || size > limit {
        return None;
    }
    let size = usize::try_from(size).ok()?;
    if ctx.0.is_none() {
        ctx.0 = Some(Dctx::new(lib)?);
    }
    let dctx = ctx.0.as_ref()?;
    out.reserve(size);
    let spare = out.spare_capacity_mut();
    // SAFETY: writes at most `size` bytes into the spare capacity reserved
    // above, reads `raw` within its length.
    let n = unsafe {
        (lib.decompress_dctx)(
            dctx.ptr.as_ptr(),
            spare.as_mut_ptr().cast(),
            size,
            raw.as_ptr().cast(),
            raw.len(),
        )
    };
    if lib.error(n).is_some() || n != size {
        return None;
    }
    // SAFETY: the decoder initialised `n` bytes after the old length.
    unsafe { out.set_len(out.len() + n) };
    Some(())
}

/// zstd, any number of frames, into `out`: at most `limit` bytes and one
/// more.
pub(crate) fn zstd_stream(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    let lib = zstd_lib().map_err(Failure::Unavailable)?;
    let dctx = Dctx::new(lib).ok_or_else(|| Failure::Corrupt("out of memory".into()))?;
    let mut input = ZSTD_inBuffer {
        src: raw.as_ptr().cast(),
        size: raw.len(),
        pos: 0,
    };
    // 0 once a frame is complete (the next call starts the next frame); a
    // hint of what is still to come otherwise.
    let mut pending = 1;
    while input.pos < input.size || pending != 0 {
        if out.len() as u64 > limit {
            return Ok(());
        }
        let (dst, size) = room(out, limit);
        let mut output = ZSTD_outBuffer {
            dst: dst.cast(),
            size,
            pos: 0,
        };
        let before = input.pos;
        // SAFETY: the buffers describe `raw` and `out`'s spare capacity.
        pending = unsafe { (lib.decompress_stream)(dctx.ptr.as_ptr(), &mut output, &mut input) };
        if let Some(e) = lib.error(pending) {
            return Err(Failure::Corrupt(e));
        }
        // SAFETY: the decoder initialised `output.pos` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + output.pos) };
        if input.pos == before && output.pos == 0 {
            // All input read, a frame still open: the stream stops short.
            return Err(Failure::Corrupt("incomplete frame".into()));
        }
    }
    Ok(())
}

// --- xz -------------------------------------------------------------------

struct LzmaLib {
    stream_decoder: unsafe extern "C" fn(*mut lzma::lzma_stream, u64, u32) -> lzma::lzma_ret,
    code: unsafe extern "C" fn(*mut lzma::lzma_stream, lzma::lzma_action) -> lzma::lzma_ret,
    end: unsafe extern "C" fn(*mut lzma::lzma_stream),
}

fn lzma_lib() -> Result<&'static LzmaLib, String> {
    static LIB: OnceLock<Result<LzmaLib, String>> = OnceLock::new();
    library(&LIB, c"liblzma.so.5", |lib| {
        // SAFETY: each type is the function's declaration in lzma/*.h.
        unsafe {
            Ok(LzmaLib {
                stream_decoder: symbol(lib, c"lzma_stream_decoder")?,
                code: symbol(lib, c"lzma_code")?,
                end: symbol(lib, c"lzma_end")?,
            })
        }
    })
}

/// An lzma_stream, ended when dropped.
struct Stream {
    lib: &'static LzmaLib,
    strm: lzma::lzma_stream,
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: initialised by lzma_stream_decoder (or all zeros, which
        // lzma_end accepts).
        unsafe { (self.lib.end)(&mut self.strm) };
    }
}

fn lzma_message(ret: lzma::lzma_ret) -> String {
    match ret {
        lzma::LZMA_MEM_ERROR => "out of memory".into(),
        lzma::LZMA_MEMLIMIT_ERROR => "memory limit reached".into(),
        lzma::LZMA_FORMAT_ERROR => "not in the xz format".into(),
        lzma::LZMA_OPTIONS_ERROR => "unsupported options".into(),
        lzma::LZMA_DATA_ERROR => "corrupt data".into(),
        lzma::LZMA_BUF_ERROR => "unexpected end of input".into(),
        other => format!("liblzma error {other}"),
    }
}

/// xz, any number of streams, into `out`: at most `limit` bytes and one
/// more.
pub(crate) fn xz(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    let lib = lzma_lib().map_err(Failure::Unavailable)?;
    let mut s = Stream {
        lib,
        // SAFETY: all zeros is LZMA_STREAM_INIT.
        strm: unsafe { std::mem::zeroed() },
    };
    // SAFETY: a zeroed stream, no memory limit, concatenated streams.
    let ret = unsafe { (lib.stream_decoder)(&mut s.strm, u64::MAX, lzma::LZMA_CONCATENATED) };
    if ret != lzma::LZMA_OK {
        return Err(Failure::Corrupt(lzma_message(ret)));
    }
    s.strm.next_in = raw.as_ptr();
    s.strm.avail_in = raw.len();
    loop {
        if out.len() as u64 > limit {
            return Ok(());
        }
        let (dst, size) = room(out, limit);
        s.strm.next_out = dst;
        s.strm.avail_out = size;
        // All input is there from the start: finishing is the only action.
        // SAFETY: next_in/next_out describe `raw` and `out`'s spare capacity.
        let ret = unsafe { (lib.code)(&mut s.strm, lzma::LZMA_FINISH) };
        let produced = size - s.strm.avail_out;
        // SAFETY: the decoder initialised `produced` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + produced) };
        match ret {
            lzma::LZMA_STREAM_END => return Ok(()),
            lzma::LZMA_OK => {}
            other => return Err(Failure::Corrupt(lzma_message(other))),
        }
    }
}

// --- gzip -----------------------------------------------------------------

/// zlib's `z_stream` (zlib.h): `uInt` is 32 bits, `uLong` is C's long.
#[repr(C)]
struct ZStream {
    next_in: *const u8,
    avail_in: u32,
    total_in: std::ffi::c_ulong,
    next_out: *mut u8,
    avail_out: u32,
    total_out: std::ffi::c_ulong,
    msg: *const c_char,
    state: *mut c_void,
    zalloc: *const c_void,
    zfree: *const c_void,
    opaque: *mut c_void,
    data_type: c_int,
    adler: std::ffi::c_ulong,
    reserved: std::ffi::c_ulong,
}

struct ZLib {
    version: unsafe extern "C" fn() -> *const c_char,
    inflate_init2: unsafe extern "C" fn(*mut ZStream, c_int, *const c_char, c_int) -> c_int,
    inflate: unsafe extern "C" fn(*mut ZStream, c_int) -> c_int,
    inflate_reset: unsafe extern "C" fn(*mut ZStream) -> c_int,
    inflate_end: unsafe extern "C" fn(*mut ZStream) -> c_int,
}

const Z_OK: c_int = 0;
const Z_STREAM_END: c_int = 1;
const Z_FINISH: c_int = 4;
const Z_NO_FLUSH: c_int = 0;
const Z_BUF_ERROR: c_int = -5;
const Z_MEM_ERROR: c_int = -4;
/// A 32 KiB window, and a gzip header rather than zlib's (+16).
const GZIP_WINDOW: c_int = 15 + 16;

fn zlib() -> Result<&'static ZLib, String> {
    static LIB: OnceLock<Result<ZLib, String>> = OnceLock::new();
    library(&LIB, c"libz.so.1", |lib| {
        // SAFETY: each type is the function's declaration in zlib.h.
        unsafe {
            Ok(ZLib {
                version: symbol(lib, c"zlibVersion")?,
                inflate_init2: symbol(lib, c"inflateInit2_")?,
                inflate: symbol(lib, c"inflate")?,
                inflate_reset: symbol(lib, c"inflateReset")?,
                inflate_end: symbol(lib, c"inflateEnd")?,
            })
        }
    })
}

/// An inflating z_stream, ended when dropped.
struct Inflate {
    lib: &'static ZLib,
    strm: ZStream,
}

impl Drop for Inflate {
    fn drop(&mut self) {
        // SAFETY: initialised by inflateInit2_.
        unsafe { (self.lib.inflate_end)(&mut self.strm) };
    }
}

/// zlib's own message for the stream's last error, else its code.
fn z_message(strm: &ZStream, code: c_int) -> String {
    if code == Z_BUF_ERROR {
        return "unexpected end of input".into();
    }
    if code == Z_MEM_ERROR {
        return "out of memory".into();
    }
    if strm.msg.is_null() {
        return format!("zlib error {code}");
    }
    // SAFETY: zlib's messages are static NUL-terminated strings.
    unsafe { CStr::from_ptr(strm.msg) }
        .to_string_lossy()
        .into_owned()
}

/// gzip, possibly several members, into `out`: at most `limit` bytes and
/// one more.
pub(crate) fn gzip(raw: &[u8], out: &mut Vec<u8>, limit: u64) -> Result<(), Failure> {
    let lib = zlib().map_err(Failure::Unavailable)?;
    // SAFETY: all zeros is a z_stream with the default allocator.
    let mut z = Inflate {
        lib,
        strm: unsafe { std::mem::zeroed() },
    };
    // SAFETY: a zeroed stream, the library's own version string and the
    // size of the structure it checks against its own.
    let ret = unsafe {
        (lib.inflate_init2)(
            &mut z.strm,
            GZIP_WINDOW,
            (lib.version)(),
            std::mem::size_of::<ZStream>() as c_int,
        )
    };
    if ret != Z_OK {
        // inflateEnd refuses a stream that never started, harmlessly.
        return Err(Failure::Corrupt(z_message(&z.strm, ret)));
    }
    let mut rest = raw;
    loop {
        if out.len() as u64 > limit {
            return Ok(());
        }
        // avail_in is 32 bits: a larger input goes in pieces.
        let given = rest.len().min(u32::MAX as usize);
        z.strm.next_in = rest.as_ptr();
        z.strm.avail_in = given as u32;
        let (dst, size) = room(out, limit);
        let size = size.min(u32::MAX as usize);
        z.strm.next_out = dst;
        z.strm.avail_out = size as u32;
        let flush = if given == rest.len() {
            Z_FINISH
        } else {
            Z_NO_FLUSH
        };
        // SAFETY: next_in/next_out describe `rest` and `out`'s spare capacity.
        let ret = unsafe { (lib.inflate)(&mut z.strm, flush) };
        let produced = size - z.strm.avail_out as usize;
        // SAFETY: zlib initialised `produced` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + produced) };
        let consumed = given - z.strm.avail_in as usize;
        rest = &rest[consumed..];
        match ret {
            Z_STREAM_END if rest.is_empty() => return Ok(()),
            Z_STREAM_END => {
                // Another member follows.
                // SAFETY: a stream started above.
                unsafe { (lib.inflate_reset)(&mut z.strm) };
            }
            Z_OK => {}
            // Out of room, not out of input: the loop makes more.
            Z_BUF_ERROR if produced > 0 || consumed > 0 => {}
            other => return Err(Failure::Corrupt(z_message(&z.strm, other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_named_in_the_error() {
        let err = open(c"libmodutils-absent.so.0").unwrap_err();
        assert!(
            err.starts_with("cannot load libmodutils-absent.so.0: "),
            "{err}"
        );
    }

    #[test]
    fn the_system_libraries_are_found() {
        zstd_lib().unwrap();
        lzma_lib().unwrap();
        zlib().unwrap();
    }
}
