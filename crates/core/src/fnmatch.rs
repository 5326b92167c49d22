//! (being written)

// TEMPORARY: replaced on merge. A minimal matcher so that the config code
// compiles and its tests run on this branch; the real glibc-compatible
// implementation lives on another branch and overwrites this file.

/// `fnmatch(pattern, string, 0) == 0`, for flags 0.
pub fn fnmatch(pattern: &[u8], string: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < string.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, s));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    s += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, next)) = bracket(&pattern[p..], string[s]) {
                        if ok {
                            p += next;
                            s += 1;
                            continue;
                        }
                    } else if string[s] == b'[' {
                        p += 1;
                        s += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == string[s] {
                        p += 2;
                        s += 1;
                        continue;
                    }
                }
                c => {
                    if c == string[s] {
                        p += 1;
                        s += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) => {
                p = sp + 1;
                s = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at the start of `pat`;
/// returns (matched, length of the expression), or None if unterminated.
fn bracket(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pat.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if lo == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            lo
        };
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn basics() {
        assert!(fnmatch(b"a*c", b"abbbc"));
        assert!(fnmatch(b"f_[0-9]_x", b"f_7_x"));
        assert!(!fnmatch(b"f_[!0-9]", b"f_7"));
        assert!(fnmatch(b"?", b"x"));
        assert!(!fnmatch(b"abc", b"abd"));
    }
}
