//! `depmod` (not implemented yet).

use std::ffi::OsString;

pub fn main(_args: Vec<OsString>) -> i32 {
    crate::not_implemented("depmod")
}
