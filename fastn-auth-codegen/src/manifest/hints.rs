//! What a manifest error says to help: the near miss meant, and the fix for serde's words.

/// The candidate `word` was probably meant as: the same but for case, or one or two edits
/// away (one for short words), when exactly one candidate is that near.
pub fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let allowed = if word.chars().count() <= 4 { 1 } else { 2 };
    let near: Vec<&str> = candidates.iter().copied().filter(|c| edit_distance(word, c) <= allowed).collect();
    match near[..] {
        [one] => Some(one),
        _ => None,
    }
}

/// Levenshtein distance, by characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), with a
/// did-you-mean when one of the expected words is near; a missing `version` with the fix.
pub(super) fn teach(message: String) -> String {
    if message.contains("missing field `version`") {
        return format!("{message}: add `version: 1` as the first line");
    }
    let found = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|start| Some(&message[message.find(start)? + start.len()..]));
    let Some(rest) = found else { return message };
    let Some((word, expected)) = rest.split_once('`') else { return message };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(word, &candidates) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message,
    }
}
