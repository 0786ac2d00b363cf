//! Text tables whose columns line up in a terminal when cells mix Chinese
//! and ASCII. `format!("{:<20}")` pads by characters, but a CJK character
//! takes two columns on screen, so a name like 广州市花都区民政局 pushed
//! every later column out of line; cells here are padded by their display
//! width (Unicode East Asian Width, via `unicode-width`).

use unicode_width::UnicodeWidthStr;

/// Rows of cells, printed with two spaces between columns; the last
/// column is not padded (no trailing blanks).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
    indent: usize,
}

impl Table {
    pub fn new() -> Self {
        Table::default()
    }

    /// Right-aligns these columns (counts).
    pub fn right_aligned(mut self, columns: &[usize]) -> Self {
        self.right = columns.to_vec();
        self
    }

    /// Starts every line with this many spaces.
    pub fn indented(mut self, spaces: usize) -> Self {
        self.indent = spaces;
        self
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The lines, without line ends.
    pub fn lines(&self) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        self.rows
            .iter()
            .map(|row| {
                let mut line = " ".repeat(self.indent);
                for (c, cell) in row.iter().enumerate() {
                    let pad = " ".repeat(widths[c].saturating_sub(cell.width()));
                    let last = c + 1 == row.len();
                    if c > 0 {
                        line.push_str("  ");
                    }
                    if self.right.contains(&c) {
                        line.push_str(&pad);
                        line.push_str(cell);
                    } else {
                        line.push_str(cell);
                        if !last {
                            line.push_str(&pad);
                        }
                    }
                }
                line
            })
            .collect()
    }

    /// Prints the lines on standard output.
    pub fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    use super::Table;

    /// The display column where each cell of each line starts.
    fn starts(lines: &[String], cells: &[&[&str]]) -> Vec<Vec<usize>> {
        lines
            .iter()
            .zip(cells)
            .map(|(line, row)| {
                let mut from = 0;
                row.iter()
                    .map(|cell| {
                        let at = from
                            + line[from..].find(cell).unwrap_or_else(|| {
                                panic!("{cell:?} is not in {line:?}");
                            });
                        from = at + cell.len();
                        line[..at].width()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn mixed_chinese_and_ascii_columns_line_up_on_screen() {
        let rows: &[&[&str]] = &[
            &[
                "11440114MB2C00015N",
                "广州市花都区民政局",
                "district",
                "active",
            ],
            &[
                "11440114MB2C00082L",
                "花都区新华街道三东村便民服务站",
                "village",
                "suspended",
            ],
            &["X", "ab", "town", "新"],
        ];
        let mut table = Table::new();
        for r in rows {
            table.row(r.iter().copied());
        }
        let lines = table.lines();
        let starts = starts(&lines, rows);
        for column in 0..4 {
            let at: Vec<usize> = starts.iter().map(|s| s[column]).collect();
            assert!(
                at.iter().all(|a| *a == at[0]),
                "column {column} starts at {at:?}:\n{}",
                lines.join("\n")
            );
        }
        // Column 2 starts after the widest name (30 columns) and two spaces.
        assert_eq!(starts[0][2], 18 + 2 + 30 + 2);
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{lines:?}");
    }

    #[test]
    fn counts_align_right_and_indent_is_kept() {
        let mut table = Table::new().right_aligned(&[1]).indented(2);
        table.row(["市场监管局", "7"]);
        table.row(["civil", "1024"]);
        assert_eq!(table.lines(), ["  市场监管局     7", "  civil       1024"]);
    }

    #[test]
    fn rows_may_be_shorter_and_the_table_empty() {
        assert!(Table::new().lines().is_empty());
        let mut table = Table::new();
        table.row(["a", "b", "c"]);
        table.row(["婚姻"]);
        assert_eq!(table.lines(), ["a     b  c", "婚姻"]);
    }
}
