//! Adversarial subjects: a few strings built from the bytes a pattern's own classes
//! accept, on which a pattern with a bad worst case (nested lazy or greedy runs that
//! backtrack) shows it. Measuring the steps a pattern spends on them at load time is a
//! cheap lower bound of its worst case, never a proof that a pattern is cheap.

use crate::class::{byte_at, class_accepts, class_end, ESC};

/// Bytes preferred as a class's representative: what host names and names in
/// registries are made of, then everything else.
const PREFERRED: &[u8] = b"a0.-ZbA_ 1:/";

/// How many distinct repeated-byte subjects are tried at most.
const MAX_REPEATED: usize = 6;

/// The single-character classes of a pattern body (without `^`), in order, as the set
/// of bytes each accepts. `%b` contributes its two bytes; frontiers and
/// back-references accept nothing by themselves and are left out.
fn item_sets(body: &[u8]) -> Vec<[bool; 256]> {
    let mut sets = Vec::new();
    let mut p = 0;
    while p < body.len() {
        let pc = byte_at(body, p);
        let next = byte_at(body, p + 1);
        match pc {
            b'(' | b')' => p += 1,
            b'$' if p + 1 == body.len() => p += 1,
            ESC if next == b'b' => {
                for c in [byte_at(body, p + 2), byte_at(body, p + 3)] {
                    let mut set = [false; 256];
                    set[usize::from(c)] = true;
                    sets.push(set);
                }
                p += 4;
            }
            ESC if next == b'f' => p = class_end(body, p + 2).unwrap_or(body.len()),
            ESC if next.is_ascii_digit() => p += 2,
            _ => {
                let ep = class_end(body, p).unwrap_or(body.len());
                let mut set = [false; 256];
                for (c, slot) in (0..=255u8).zip(set.iter_mut()) {
                    *slot = class_accepts(c, body, p, ep);
                }
                sets.push(set);
                let quantified = matches!(byte_at(body, ep), b'*' | b'+' | b'?' | b'-');
                p = if quantified { ep + 1 } else { ep };
            }
        }
    }
    sets
}

/// Bytes in preference order: [`PREFERRED`] first, then 0..=255.
fn bytes_by_preference() -> impl Iterator<Item = u8> {
    PREFERRED
        .iter()
        .copied()
        .chain((0..=255u8).filter(|c| !PREFERRED.contains(c)))
}

/// Subjects of `len` bytes on which a pattern body's worst case shows: each of the
/// bytes accepted by the most classes (one per distinct set of accepting classes)
/// repeated, and the classes' most accepted bytes in pattern order, cycled, once as
/// they are and once ending in a byte no class accepts (a failure found only at the
/// end).
pub(crate) fn adversarial_subjects(body: &[u8], len: usize) -> Vec<Vec<u8>> {
    let sets = item_sets(body);
    if sets.is_empty() || len == 0 {
        return Vec::new();
    }
    let signature = |c: u8| -> Vec<bool> { sets.iter().map(|s| s[usize::from(c)]).collect() };
    let weight = |c: u8| sets.iter().filter(|s| s[usize::from(c)]).count();
    // One representative byte per distinct signature, heaviest first.
    let mut reps: Vec<(usize, Vec<bool>, u8)> = Vec::new();
    for c in bytes_by_preference() {
        let sig = signature(c);
        if !reps.iter().any(|(_, s, _)| *s == sig) {
            reps.push((weight(c), sig, c));
        }
    }
    reps.sort_by_key(|r| std::cmp::Reverse(r.0)); // stable: preference order among equals
    let mut subjects: Vec<Vec<u8>> = reps
        .iter()
        .filter(|(w, _, _)| *w > 0)
        .take(MAX_REPEATED)
        .map(|(_, _, c)| vec![*c; len])
        .collect();
    let cycle: Vec<u8> = sets
        .iter()
        .filter_map(|set| {
            bytes_by_preference().filter(|&c| set[usize::from(c)]).fold(
                None,
                |best: Option<u8>, c| match best {
                    Some(b) if weight(b) >= weight(c) => Some(b),
                    _ => Some(c),
                },
            )
        })
        .collect();
    if !cycle.is_empty() {
        let cycled: Vec<u8> = cycle.iter().copied().cycle().take(len).collect();
        if let Some((_, _, stranger)) = reps.iter().find(|(w, _, _)| *w == 0) {
            let mut ending = cycled.clone();
            if let Some(last) = ending.last_mut() {
                *last = *stranger;
            }
            subjects.push(ending);
        }
        subjects.push(cycled);
    }
    subjects.dedup();
    subjects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_a_hostile_host_pattern() {
        let sets = item_sets(b".-.-%d");
        assert_eq!(sets.len(), 3);
        assert!(sets[0].iter().all(|&a| a));
        assert!(sets[2][usize::from(b'7')] && !sets[2][usize::from(b'a')]);
        let subjects = adversarial_subjects(b".-.-%d", 255);
        // A run of letters (accepted by `.` but not `%d`) is among them.
        assert!(subjects.contains(&vec![b'a'; 255]));
        assert!(subjects.iter().all(|s| s.len() == 255));
    }

    #[test]
    fn balance_frontier_and_back_references() {
        assert_eq!(item_sets(b"%bxy").len(), 2);
        assert_eq!(item_sets(b"%f[%w]a").len(), 1);
        assert_eq!(item_sets(b"(a)%1$").len(), 1);
        assert!(adversarial_subjects(b"", 10).is_empty());
        assert!(adversarial_subjects(b"()", 10).is_empty());
    }
}
