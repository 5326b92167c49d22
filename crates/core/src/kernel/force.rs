//! `--force`: which of the kernel's checks to disable, as `finit_module`
//! flags or, on the `init_module` path, by patching a private copy of the
//! image.

use nix::kmod::ModuleInitFlags;

/// Which of the kernel's checks `--force` disables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Force {
    /// Symbol version CRCs (`__versions`).
    pub modversion: bool,
    /// The `vermagic` string.
    pub vermagic: bool,
}

impl Force {
    /// Both checks off, as `insmod -f` and `modprobe -f` ask.
    pub const ALL: Force = Force {
        modversion: true,
        vermagic: true,
    };

    /// Whether any check is to be skipped: the kernel then taints itself when it accepts the
    /// module.
    pub fn any(self) -> bool {
        self.modversion || self.vermagic
    }

    pub(super) fn init_flags(self) -> ModuleInitFlags {
        let mut flags = ModuleInitFlags::empty();
        if self.modversion {
            flags |= ModuleInitFlags::MODULE_INIT_IGNORE_MODVERSIONS;
        }
        if self.vermagic {
            flags |= ModuleInitFlags::MODULE_INIT_IGNORE_VERMAGIC;
        }
        flags
    }
}

/// Disables the kernel's version checks in a module image, as `--force`
/// asks when the image goes through `init_module`: clears `SHF_ALLOC` of
/// `__versions` (the kernel then sees no CRCs) and blanks the
/// `vermagic=…` record of `.modinfo`. Returns what was changed; an image
/// without the section or record (or one that does not parse) is left
/// alone, and the kernel decides.
pub fn strip_for_force(image: &mut [u8], force: Force) -> (bool, bool) {
    let Ok(elf) = crate::elf::Elf::parse(image) else {
        return (false, false);
    };
    let alloc_byte = if force.modversion {
        elf.versions_alloc_flag_byte()
    } else {
        None
    };
    let vermagic = if force.vermagic {
        elf.vermagic_range()
    } else {
        None
    };
    let mut stripped = (false, false);
    if let Some(at) = alloc_byte.filter(|&at| at < image.len()) {
        image[at] &= !(crate::elf::SHF_ALLOC as u8);
        stripped.0 = true;
    }
    if let Some(range) = vermagic.filter(|r| r.end <= image.len()) {
        image[range].fill(0);
        stripped.1 = true;
    }
    stripped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_flags() {
        assert_eq!(Force::default().init_flags(), ModuleInitFlags::empty());
        assert_eq!(Force::ALL.init_flags().bits(), 3);
        assert!(!Force::default().any());
    }
}
