//! Elastic tabstops, behaving like Go's `text/tabwriter` configured the way Alloy's printer
//! configures it: minimum cell width 0, tab width 8, padding 1, pad character ' ', empty columns
//! discarded, leading empty cells padded with tabs.
//!
//! Every alignment `alloy fmt` produces (`=` signs, trailing comments, one-line objects) falls out
//! of this algorithm, so it is reproduced exactly rather than approximated:
//!
//! - Input text is split into cells. `\t` and `\v` end a cell (`\t` marks it "hard": never
//!   discarded), `\n` and `\f` end a cell and the line. The last cell of a line belongs to no column.
//! - A column block is a run of consecutive lines that all have a cell in that column; its width
//!   is the widest cell plus the padding. Text cells are padded with spaces, leading empty cells
//!   with tabs.
//! - `\f` (and a `\n` ending a one-cell line) flushes: alignment never crosses it.
//! - Text between two [`ESCAPE`] bytes is opaque: separators inside it are plain text. The escape
//!   bytes are kept in the output (the trimmer removes them) and do not count toward the width.

/// Go's `tabwriter.Escape`.
pub(crate) const ESCAPE: u8 = 0xFF;

const TAB_WIDTH: usize = 8;
const PADDING: usize = 1;

#[derive(Debug, Default, Clone)]
struct Cell {
    text: Vec<u8>,
    /// Display width: characters of `text`, escape bytes excluded.
    width: usize,
    /// Ended by a `\t` (as opposed to `\v` or a line end).
    htab: bool,
}

/// Runs `input` through the elastic-tabstop formatter.
pub(crate) fn align(input: &[u8]) -> Vec<u8> {
    let mut w = TabWriter {
        lines: vec![Vec::new()],
        cell: Cell::default(),
        in_escape: false,
        widths: Vec::new(),
        out: Vec::with_capacity(input.len() + input.len() / 4),
    };
    for &b in input {
        w.feed(b);
    }
    w.flush();
    w.out
}

struct TabWriter {
    /// Buffered lines; the last one is the line being filled.
    lines: Vec<Vec<Cell>>,
    /// The cell being filled.
    cell: Cell,
    in_escape: bool,
    /// Widths of the enclosing columns while formatting (a stack, one entry per column).
    widths: Vec<usize>,
    out: Vec<u8>,
}

impl TabWriter {
    fn feed(&mut self, b: u8) {
        if self.in_escape {
            self.cell.text.push(b);
            if b == ESCAPE {
                self.in_escape = false;
            }
            return;
        }
        match b {
            b'\t' | b'\x0b' | b'\n' | b'\x0c' => {
                let cells = self.terminate_cell(b == b'\t');
                if b == b'\n' || b == b'\x0c' {
                    self.lines.push(Vec::new());
                    if b == b'\x0c' || cells == 1 {
                        self.flush();
                    }
                }
            }
            ESCAPE => {
                self.cell.text.push(b);
                self.in_escape = true;
            }
            _ => self.cell.text.push(b),
        }
    }

    /// Closes the current cell; returns how many cells its line now has.
    fn terminate_cell(&mut self, htab: bool) -> usize {
        let mut cell = std::mem::take(&mut self.cell);
        cell.width = display_width(&cell.text);
        cell.htab = htab;
        let line = self.current_line();
        line.push(cell);
        line.len()
    }

    fn current_line(&mut self) -> &mut Vec<Cell> {
        if self.lines.is_empty() {
            self.lines.push(Vec::new());
        }
        let last = self.lines.len() - 1;
        &mut self.lines[last]
    }

    /// Formats and writes every buffered line, then starts afresh.
    fn flush(&mut self) {
        if !self.cell.text.is_empty() {
            self.in_escape = false;
            self.terminate_cell(false);
        }
        let n = self.lines.len();
        self.format(0, n);
        self.lines.clear();
        self.lines.push(Vec::new());
    }

    /// Writes lines `line0..line1`. For each block of consecutive lines that have a cell in the
    /// next column, the column's width is computed and the block is formatted again for the
    /// columns further right, with `self.widths` holding the widths of the enclosing columns.
    ///
    /// Go's tabwriter recurses once per column; an explicit stack keeps a line with thousands of
    /// cells (a huge one-line object) from exhausting the call stack.
    fn format(&mut self, line0: usize, line1: usize) {
        let mut stack = vec![Frame {
            line0,
            line1,
            this: line0,
        }];
        while let Some(frame) = stack.last_mut() {
            let column = self.widths.len();
            while frame.this < frame.line1 && !has_column(&self.lines[frame.this], column) {
                frame.this += 1;
            }
            if frame.this >= frame.line1 {
                let (l0, l1) = (frame.line0, frame.line1);
                self.write_lines(l0, l1);
                stack.pop();
                self.widths.pop();
                if let Some(parent) = stack.last_mut() {
                    // Resume after the block; the line that ended it lacks the column.
                    parent.line0 = parent.this;
                    parent.this += 1;
                }
                continue;
            }
            // A block of lines with a cell in this column starts here.
            let start = frame.this;
            let (l0, l1) = (frame.line0, frame.line1);
            self.write_lines(l0, start);
            let mut end = start;
            let mut width = 0;
            let mut discardable = true;
            while end < l1 && has_column(&self.lines[end], column) {
                let c = &self.lines[end][column];
                width = width.max(c.width + PADDING);
                if c.width > 0 || c.htab {
                    discardable = false;
                }
                end += 1;
            }
            if discardable {
                width = 0;
            }
            if let Some(frame) = stack.last_mut() {
                frame.line0 = start;
                frame.this = end;
            }
            self.widths.push(width);
            stack.push(Frame {
                line0: start,
                line1: end,
                this: start,
            });
        }
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        let total = self.lines.len();
        for i in line0..line1 {
            let mut use_tabs = true;
            for (j, c) in self.lines[i].iter().enumerate() {
                let column_width = self.widths.get(j).copied();
                if c.text.is_empty() {
                    if let Some(cw) = column_width {
                        pad(&mut self.out, c.width, cw, use_tabs);
                    }
                } else {
                    use_tabs = false;
                    self.out.extend_from_slice(&c.text);
                    if let Some(cw) = column_width {
                        pad(&mut self.out, c.width, cw, false);
                    }
                }
            }
            if i + 1 == total {
                // The last buffered line has no newline yet.
                self.out.extend_from_slice(&self.cell.text);
            } else {
                self.out.push(b'\n');
            }
        }
    }
}

/// One level of [`TabWriter::format`]: lines `line0..line1` are being formatted for one column;
/// `line0..this` has been scanned without being written yet.
struct Frame {
    line0: usize,
    line1: usize,
    this: usize,
}

/// A line has a cell in `column` when that cell is not its last (the last cell is free text).
fn has_column(line: &[Cell], column: usize) -> bool {
    column + 1 < line.len()
}

fn pad(out: &mut Vec<u8>, text_width: usize, cell_width: usize, use_tabs: bool) {
    if use_tabs {
        let cell_width = cell_width.div_ceil(TAB_WIDTH) * TAB_WIDTH;
        let n = cell_width.saturating_sub(text_width);
        out.extend(std::iter::repeat_n(b'\t', n.div_ceil(TAB_WIDTH)));
    } else {
        out.extend(std::iter::repeat_n(
            b' ',
            cell_width.saturating_sub(text_width),
        ));
    }
}

/// Characters in `text`, not counting escape bytes (Go counts runes, then subtracts the escapes).
fn display_width(text: &[u8]) -> usize {
    text.iter()
        .filter(|&&b| b != ESCAPE && (b & 0xC0) != 0x80)
        .count()
}

#[cfg(test)]
mod tests {
    use super::align;

    fn run(s: &str) -> String {
        String::from_utf8_lossy(&align(s.as_bytes())).into_owned()
    }

    #[test]
    fn aligns_a_column_block() {
        assert_eq!(run("a\x0b= 1\nlong\x0b= 2\n"), "a    = 1\nlong = 2\n");
    }

    #[test]
    fn formfeed_breaks_alignment() {
        assert_eq!(run("a\x0b= 1\x0clong\x0b= 2\n"), "a = 1\nlong = 2\n");
    }

    #[test]
    fn leading_empty_cells_become_tabs() {
        assert_eq!(
            run("x {\n\ta\x0b= 1\n\tbb\x0b= 2\n}"),
            "x {\n\ta  = 1\n\tbb = 2\n}"
        );
    }

    #[test]
    fn escaped_text_is_opaque_and_counts_its_characters() {
        let input = b"a\x0b= 1\t\xff// \xe9\tx\xff\nbb\x0b= 2\t\xff// y\xff\n";
        let out = align(input);
        assert_eq!(
            out,
            b"a  = 1 \xff// \xe9\tx\xff\nbb = 2 \xff// y\xff\n".to_vec()
        );
    }

    #[test]
    fn wide_neighbour_makes_indent_two_tabs() {
        // A hard empty cell shares its column with a 9-character cell: padding rounds to 16.
        assert_eq!(run("abcdefghi\tx\n\ty\n"), "abcdefghi x\n\t\ty\n");
    }

    #[test]
    fn nested_blocks_pick_widths_per_column() {
        // Column 0 spans all three lines; column 1 only the first two.
        let input = "a\x0bb\x0bc\nlong\x0bbb\x0bx\nz\x0by\n";
        assert_eq!(run(input), "a    b  c\nlong bb x\nz    y\n");
    }

    #[test]
    fn a_line_with_very_many_cells_does_not_exhaust_the_stack() {
        let input = "k\x0b".repeat(200_000) + "end\n";
        let out = run(&input);
        assert!(out.starts_with("k k k"));
        assert!(out.ends_with("k end\n"));
    }
}
