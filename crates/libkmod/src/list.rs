//! `struct kmod_list`: a circular doubly-linked chain of nodes; the
//! client holds the head, an empty list is NULL, and nodes stay where
//! they are until the list is freed (clients keep pointers to them).

use std::ffi::c_void;
use std::ptr;

/// One node. The layout is what clients' inlined `kmod_list_foreach`
/// never looks at (they go through `kmod_list_next`), but it is kept
/// C-like so a node is one allocation with stable address.
#[repr(C)]
pub struct KmodList {
    next: *mut KmodList,
    prev: *mut KmodList,
    data: *mut c_void,
}

/// A list of `items` in order; NULL when empty.
pub(crate) fn from_vec(items: Vec<*mut c_void>) -> *mut KmodList {
    let mut head: *mut KmodList = ptr::null_mut();
    for data in items {
        let node = Box::into_raw(Box::new(KmodList {
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            data,
        }));
        // SAFETY: every node was made here by Box and is still live.
        unsafe {
            if head.is_null() {
                (*node).next = node;
                (*node).prev = node;
                head = node;
            } else {
                let last = (*head).prev;
                (*node).prev = last;
                (*node).next = head;
                (*last).next = node;
                (*head).prev = node;
            }
        }
    }
    head
}

/// The data pointers of a list, in order.
///
/// # Safety
/// `head` is NULL or a list made by [`from_vec`] and not yet freed.
pub(crate) unsafe fn items(head: *const KmodList) -> Vec<*mut c_void> {
    let mut out = Vec::new();
    if head.is_null() {
        return out;
    }
    let mut node = head;
    loop {
        // SAFETY: the caller's contract: the chain is intact.
        unsafe {
            out.push((*node).data);
            node = (*node).next;
        }
        if ptr::eq(node, head) {
            return out;
        }
    }
}

/// Frees every node, handing each node's data to `free_data` first.
///
/// # Safety
/// As for [`items`]; the list must not be used afterwards.
pub(crate) unsafe fn free(head: *mut KmodList, mut free_data: impl FnMut(*mut c_void)) {
    if head.is_null() {
        return;
    }
    let mut node = head;
    loop {
        // SAFETY: each node was boxed by from_vec and is freed once.
        let next = unsafe {
            let next = (*node).next;
            free_data((*node).data);
            drop(Box::from_raw(node));
            next
        };
        if ptr::eq(next, head) {
            return;
        }
        node = next;
    }
}

/// The data of one node; NULL for a NULL entry.
///
/// # Safety
/// `entry` is NULL or a live node.
pub(crate) unsafe fn data(entry: *const KmodList) -> *mut c_void {
    if entry.is_null() {
        ptr::null_mut()
    } else {
        // SAFETY: the caller's contract.
        unsafe { (*entry).data }
    }
}

pub(crate) unsafe extern "C" fn kmod_list_next(
    list: *const KmodList,
    curr: *const KmodList,
) -> *mut KmodList {
    if list.is_null() || curr.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: curr is a live node of list (the documented contract).
    let next = unsafe { (*curr).next };
    if ptr::eq(next, list) {
        ptr::null_mut()
    } else {
        next
    }
}

pub(crate) unsafe extern "C" fn kmod_list_prev(
    list: *const KmodList,
    curr: *const KmodList,
) -> *mut KmodList {
    if list.is_null() || curr.is_null() || ptr::eq(list, curr) {
        return ptr::null_mut();
    }
    // SAFETY: curr is a live node of list.
    unsafe { (*curr).prev }
}

pub(crate) unsafe extern "C" fn kmod_list_last(list: *const KmodList) -> *mut KmodList {
    if list.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: list is a live head.
    unsafe { (*list).prev }
}
