//! The kernel interface parts that run without a kernel: force stripping
//! of a private image copy, the kernel log reader, parameter joining.

use std::io::Write;

use modutils_core::elf::Elf;
use modutils_core::kernel::{self, Force, KernelLog, LogRecord};
use modutils_core::Root;
use modutils_test_support::fake_module::FakeModule;
use modutils_test_support::fake_root::FakeRoot;

#[test]
fn force_strips_versions_and_vermagic_from_a_copy() {
    let image = FakeModule::new("mod_a").needs("_printk", 0x1234).build();
    let mut copy = image.clone();
    assert_eq!(kernel::strip_for_force(&mut copy, Force::ALL), (true, true));
    let elf = Elf::parse(&copy).unwrap();
    assert_eq!(elf.versions_alloc_flag_byte(), None, "SHF_ALLOC cleared");
    assert_eq!(elf.vermagic_range(), None, "vermagic blanked");
    // The rest of .modinfo is intact, the versions still readable.
    let records: Vec<&[u8]> = elf.modinfo().unwrap();
    assert_eq!(records, [&b"license=GPL"[..], b"name=mod_a"]);
    assert_eq!(elf.modversions().unwrap()[0].crc, 0x1234);
    // The original is untouched; only what was asked is stripped.
    assert!(Elf::parse(&image).unwrap().vermagic_range().is_some());
    let mut only_versions = image.clone();
    assert_eq!(
        kernel::strip_for_force(
            &mut only_versions,
            Force {
                modversion: true,
                vermagic: false
            }
        ),
        (true, false)
    );
    let mut garbage = b"not an elf at all".to_vec();
    assert_eq!(
        kernel::strip_for_force(&mut garbage, Force::ALL),
        (false, false)
    );
}

#[test]
fn kernel_log_returns_only_what_came_after_opening() {
    let sys = FakeRoot::new();
    sys.write("/dev/kmsg", "6,1,100,-;old message about mod_c\n");
    let root = Root::at(sys.root());
    let mut log = KernelLog::open(&root);
    assert!(log.is_available());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(sys.path("/dev/kmsg"))
        .unwrap();
    f.write_all(
        b"4,2,200,-;mod_c: Unknown symbol mod_b_value (err -2)\n SUBSYSTEM=module\n\
          4,6,210,-;mod_c: loading out-of-tree module taints kernel.\n\
          5,7,220,-;mod_c: module verification failed: signature and/or required key missing - tainting kernel\n\
          6,3,300,-;unrelated: hello\n\
          3,4,400,-;decompression failed with status 6\n\
          30,5,500,-;systemd[1]: error from userspace\n",
    )
    .unwrap();
    let about: Vec<String> = log
        .read_about(&["mod_c"])
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert_eq!(
        about,
        [
            "mod_c: Unknown symbol mod_b_value (err -2)",
            "decompression failed with status 6"
        ]
    );
    assert!(log.read_new().is_empty());
}

#[test]
fn no_kernel_log_is_not_an_error() {
    let sys = FakeRoot::new();
    let mut log = KernelLog::open(&Root::at(sys.root()));
    assert!(!log.is_available());
    assert!(log.read_new().is_empty());
    assert_eq!(LogRecord::parse("x"), None);
}
