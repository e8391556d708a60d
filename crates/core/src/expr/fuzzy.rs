//! "Did you mean" suggestions by edit distance.

/// The edit distance between two strings, by characters, counting an insertion, a
/// deletion, a substitution or a swap of neighbours as one edit (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let value = if i == 0 || j == 0 {
                i + j
            } else {
                let get = |i, j| d.get(at(i, j)).copied().unwrap_or(usize::MAX - 1);
                let same = a.get(i - 1) == b.get(j - 1);
                let mut best = (get(i - 1, j) + 1)
                    .min(get(i, j - 1) + 1)
                    .min(get(i - 1, j - 1) + usize::from(!same));
                if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                    best = best.min(get(i - 2, j - 2) + 1);
                }
                best
            };
            if let Some(slot) = d.get_mut(at(i, j)) {
                *slot = value;
            }
        }
    }
    d.last().copied().unwrap_or(0)
}

/// Names longer than this get no suggestion: nobody mistypes a 1,000-character name, and
/// the edit distance costs the product of the lengths.
pub(crate) const MAX_SUGGESTED_LEN: usize = 64;

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = name.chars().count();
    if len > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the difference of the lengths.
        .filter(|c| c.len() <= 4 * MAX_SUGGESTED_LEN && c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Help text: "did you mean `x`?", or else the list of what exists.
pub(crate) fn help(name: &str, what: &str, candidates: &[&str]) -> Option<String> {
    if let Some(best) = closest(name, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return Some(format!("no {what} are declared here"));
    }
    Some(format!("known {what}: {}", list(candidates)))
}

/// `` `a`, `b`, `c` `` (at most 12, then "…").
pub(crate) fn list(items: &[&str]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i == 12 {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(item);
        out.push('`');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("参与", "参加"), 1);
        assert_eq!(distance("dnoe", "done"), 1);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(closest("urgnet", ["urgent", "count"]), Some("urgent"));
        assert_eq!(closest("zzz", ["urgent", "count"]), None);
        assert_eq!(
            help("x", "facts", &[]).as_deref(),
            Some("no facts are declared here")
        );
        assert_eq!(
            help("qqqq", "facts", &["a", "b"]).as_deref(),
            Some("known facts: `a`, `b`")
        );
    }
}
