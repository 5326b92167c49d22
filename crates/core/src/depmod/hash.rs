//! kmod's string hash and the iteration order of its hash tables.
//!
//! depmod's output order is the iteration order of two hash tables: module
//! names (512 buckets) and symbols (2048 buckets). A bucket keeps its keys
//! sorted with `strcmp`, and buckets are visited in ascending order, so the
//! order is fully determined by the key set: sort by (bucket, key bytes).

pub(crate) use rustc_hash::FxHashMap as FastMap;
pub(crate) use rustc_hash::FxHashSet as FastSet;

/// Buckets of kmod's module-name table.
pub(crate) const MODULE_BUCKETS: u32 = 512;
/// Buckets of kmod's symbol table.
pub(crate) const SYMBOL_BUCKETS: u32 = 2048;

/// Paul Hsieh's SuperFastHash, seeded with the key length, as kmod computes
/// it on x86: 16-bit words are little-endian loads and a lone tail byte is a
/// signed `char`, so bytes >= 0x80 are sign-extended.
pub(crate) fn superfast(key: &[u8]) -> u32 {
    let word = |b: &[u8]| u32::from(u16::from_le_bytes([b[0], b[1]]));
    let signed = |b: u8| i32::from(b as i8) as u32;
    // kmod passes the length as an unsigned int: longer keys wrap.
    let mut hash = key.len() as u32;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        hash = hash.wrapping_add(word(&c[0..2]));
        let tmp = (word(&c[2..4]) << 11) ^ hash;
        hash = (hash << 16) ^ tmp;
        hash = hash.wrapping_add(hash >> 11);
    }
    let tail = chunks.remainder();
    match tail.len() {
        3 => {
            hash = hash.wrapping_add(word(tail));
            hash ^= hash << 16;
            hash ^= signed(tail[2]) << 18;
            hash = hash.wrapping_add(hash >> 11);
        }
        2 => {
            hash = hash.wrapping_add(word(tail));
            hash ^= hash << 11;
            hash = hash.wrapping_add(hash >> 17);
        }
        1 => {
            hash = hash.wrapping_add(signed(tail[0]));
            hash ^= hash << 10;
            hash = hash.wrapping_add(hash >> 1);
        }
        _ => {}
    }
    hash ^= hash << 3;
    hash = hash.wrapping_add(hash >> 5);
    hash ^= hash << 4;
    hash = hash.wrapping_add(hash >> 17);
    hash ^= hash << 25;
    hash = hash.wrapping_add(hash >> 6);
    hash
}

/// The bucket a key lands in, for a power-of-two table size.
pub(crate) fn bucket(key: &[u8], buckets: u32) -> u32 {
    superfast(key) & (buckets - 1)
}

/// Puts items into kmod's hash-table iteration order.
pub(crate) fn into_table_order<T>(
    items: Vec<T>,
    buckets: u32,
    key: impl Fn(&T) -> &[u8],
) -> Vec<T> {
    let order = table_order(&items, buckets, key);
    permuted(items, order.into_iter())
}

/// The indexes of `items` in [`into_table_order`]'s order, for a caller
/// that orders them further before it moves them.
pub(crate) fn table_order<T>(items: &[T], buckets: u32, key: impl Fn(&T) -> &[u8]) -> Vec<usize> {
    // The keys sit in the sorted tuples themselves: compared through the
    // items, every comparison was two more loads from all over memory.
    let mut keyed: Vec<(u32, &[u8], usize)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| (bucket(key(t), buckets), key(t), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(.., i)| i).collect()
}

/// `items` in the order of `order`, a permutation of their indexes (an
/// index out of range or seen before is skipped, and items it leaves out
/// are dropped). Sorting indexes instead of the items themselves (a
/// module's entry is over a hundred bytes) saves copying them around, and
/// the items are put in place by swaps, one cycle of the permutation at a
/// time: moving them into a new vector made hundreds of kilobytes of
/// fresh pages to fault in.
pub(crate) fn permuted<T>(mut items: Vec<T>, order: impl Iterator<Item = usize>) -> Vec<T> {
    let mut taken = vec![false; items.len()];
    // `from[k]`: the index of the item that goes to place k.
    let mut from: Vec<usize> = order
        .filter(|&i| i < taken.len() && !std::mem::replace(&mut taken[i], true))
        .collect();
    let kept = from.len();
    // Places past `kept` take the items the order left out, to be cut off.
    from.extend((0..items.len()).filter(|&i| !taken[i]));
    // Following each cycle from its smallest place: place k takes the item
    // now at from[k], which is the one that started there, since every
    // place of the cycle before it still holds its own.
    for start in 0..from.len() {
        let mut k = start;
        while from[k] != start {
            let next = from[k];
            items.swap(k, next);
            from[k] = k;
            k = next;
        }
        from[k] = k;
    }
    items.truncate(kept);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values from Paul Hsieh's published algorithm.
        assert_eq!(superfast(b""), 0);
        assert_eq!(bucket(b"", MODULE_BUCKETS), 0);
        // Every tail length and a sign-extended tail byte give distinct results.
        let hs: Vec<u32> = [&b"a"[..], b"ab", b"abc", b"abcd", b"ab\xe9", b"\xe9"]
            .iter()
            .map(|k| superfast(k))
            .collect();
        for (i, a) in hs.iter().enumerate() {
            for b in &hs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn permuted_follows_the_order_and_drops_what_it_leaves_out() {
        let items: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        for order in [
            vec![3, 0, 6, 1, 5, 2, 4],
            vec![6, 5, 4, 3, 2, 1, 0],
            vec![1, 2, 0, 4, 3, 6, 5],
            vec![0, 1, 2, 3, 4, 5, 6],
            vec![5, 2, 2, 9, 0],
            vec![],
        ] {
            let mut seen = std::collections::HashSet::new();
            let want: Vec<String> = order
                .iter()
                .filter(|&&i| i < items.len() && seen.insert(i))
                .map(|i| i.to_string())
                .collect();
            assert_eq!(permuted(items.clone(), order.into_iter()), want);
        }
    }

    #[test]
    fn table_order_is_bucket_then_bytes() {
        let keys: Vec<&[u8]> = vec![b"zeta", b"alpha", b"mid", b"beta"];
        let keys = into_table_order(keys, MODULE_BUCKETS, |k| k);
        let buckets: Vec<u32> = keys.iter().map(|k| bucket(k, MODULE_BUCKETS)).collect();
        let mut sorted = buckets.clone();
        sorted.sort();
        assert_eq!(buckets, sorted);
    }
}
