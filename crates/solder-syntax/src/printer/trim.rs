//! The last stage of formatting: drop trailing blanks on every line, strip the escape markers
//! around comments, and turn leftover `\v`/`\f` into `\t`/`\n`.
//!
//! Text between escape markers (comments) is copied untouched, so a comment keeps its own
//! trailing spaces, exactly as `alloy fmt` does.

use super::tabwriter::ESCAPE;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting blanks that are written only if more text follows on the line.
    Space,
    Text,
    Escaped,
}

pub(crate) fn trim(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut pending: Vec<u8> = Vec::new();
    let mut state = State::Space;
    for &raw in input {
        let b = if raw == b'\x0b' { b'\t' } else { raw };
        match state {
            State::Escaped => {
                if b == ESCAPE {
                    state = State::Space;
                } else {
                    out.push(b);
                }
            }
            State::Space | State::Text => match b {
                b' ' | b'\t' => {
                    pending.push(b);
                    state = State::Space;
                }
                b'\n' | b'\x0c' => {
                    pending.clear();
                    out.push(b'\n');
                    state = State::Space;
                }
                ESCAPE => {
                    out.append(&mut pending);
                    state = State::Escaped;
                }
                _ => {
                    out.append(&mut pending);
                    out.push(b);
                    state = State::Text;
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::trim;

    #[test]
    fn drops_trailing_blanks_and_escapes() {
        let input = b"a = 1 \t\n\t\n\xff// c  \xff  \n\x0cx\x0by\n";
        assert_eq!(trim(input), b"a = 1\n\n// c  \n\nx\ty\n".to_vec());
    }
}
