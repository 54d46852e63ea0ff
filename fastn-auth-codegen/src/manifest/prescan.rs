//! The limits counted in one pass over the text before the YAML parser runs, so that no
//! input, however nested or large, costs more than a bounded amount of work.

use super::{MAX_NESTING, MAX_NODES, ManifestError};

/// A tab in the indentation, which YAML forbids: its line and column.
pub(super) fn tab_in_indentation(text: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let indent = &line[..line.len() - line.trim_start().len()];
        indent.find('\t').map(|at| (index + 1, at + 1))
    })
}

/// Checks nesting and node count in one pass over the text, before any YAML parsing: a
/// quoted scalar or a comment holds no structure; a line's indentation opens or closes
/// block levels; `{`, `[` open flow levels, `,` and keys add nodes.
pub(super) fn prescan(text: &str) -> Result<(), ManifestError> {
    let too = |message: String, line: usize, column: usize| ManifestError {
        message,
        position: Some((line, column)),
    };
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut nodes = 0usize;
    let mut quote: Option<char> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        if quote.is_none() && flow == 0 && !content.is_empty() && !content.starts_with('#') {
            while blocks.last().is_some_and(|&open| open > indent) {
                blocks.pop();
            }
            if blocks.last() != Some(&indent) {
                blocks.push(indent);
            }
            if blocks.len() > MAX_NESTING {
                return Err(too(format!("nested more than {MAX_NESTING} levels deep"), number, indent + 1));
            }
            nodes += 1;
        }
        let mut previous = ' ';
        let mut chars = content.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match (quote, c) {
                (Some('"'), '\\') => {
                    chars.next();
                }
                (Some('\''), '\'') if chars.peek().is_some_and(|&(_, next)| next == '\'') => {
                    chars.next();
                }
                (Some(open), c) if c == open => quote = None,
                (Some(_), _) => {}
                (None, '#') if previous == ' ' || previous == '\t' => break,
                (None, '"' | '\'') if matches!(previous, ' ' | '\t' | '{' | '[' | ',' | ':') => {
                    quote = Some(c)
                }
                // In block context a bracket opens a collection only where a node starts.
                (None, '{' | '[')
                    if flow > 0 || {
                        let raw = &content[..at];
                        let before = raw.trim_end();
                        before.is_empty()
                            || (before.len() < raw.len() && (before.ends_with(':') || before.ends_with('-')))
                    } =>
                {
                    flow += 1;
                    nodes += 1;
                    if blocks.len() + flow > MAX_NESTING {
                        let column = indent + content[..at].chars().count() + 1;
                        return Err(too(
                            format!("nested more than {MAX_NESTING} levels deep"),
                            number,
                            column,
                        ));
                    }
                }
                (None, '}' | ']') => flow = flow.saturating_sub(1),
                (None, ',' | ':') => nodes += 1,
                _ => {}
            }
            previous = c;
        }
        if nodes > MAX_NODES {
            return Err(too(format!("more than {MAX_NODES} YAML nodes"), number, 1));
        }
    }
    Ok(())
}
