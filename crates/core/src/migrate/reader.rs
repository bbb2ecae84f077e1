//! Splits an export file into records without trusting its size: JSON lines (what `mongoexport`
//! writes by default) or one JSON array (`mongoexport --jsonArray`, often a single line). A record
//! longer than the limit is skipped as it streams past, never held in memory, and reported by the
//! line it starts on.

use std::io::{self, BufRead};

/// The longest record kept: a user, project or membership is a few kilobytes at most.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// One record as read: its first line (1-based) and its bytes, or `None` when it was too long.
#[derive(Debug, PartialEq, Eq)]
pub struct RawRecord {
    pub line: u64,
    pub bytes: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Lines,
    Array,
    Done,
}

pub struct RecordReader<R> {
    inner: R,
    mode: Mode,
    /// The line the reader is on (1-based).
    line: u64,
    consumed: u64,
    max: usize,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_RECORD_BYTES)
    }

    pub fn with_limit(inner: R, max: usize) -> Self {
        RecordReader {
            inner,
            mode: Mode::Unknown,
            line: 1,
            consumed: 0,
            max,
        }
    }

    /// Bytes read so far (for a progress bar).
    pub fn position(&self) -> u64 {
        self.consumed
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.consumed += n as u64;
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> io::Result<Option<RawRecord>> {
        if self.mode == Mode::Unknown {
            self.mode = self.detect()?;
        }
        loop {
            let record = match self.mode {
                Mode::Lines => self.next_line()?,
                Mode::Array => self.next_element()?,
                Mode::Unknown | Mode::Done => None,
            };
            match record {
                None => return Ok(None),
                // Blank lines are not records.
                Some(r) if r.bytes.as_ref().is_some_and(|b| is_blank(b)) => continue,
                Some(r) => return Ok(Some(r)),
            }
        }
    }

    /// Skips leading whitespace (and a UTF-8 byte order mark) and looks at the first byte.
    fn detect(&mut self) -> io::Result<Mode> {
        loop {
            let chunk = self.inner.fill_buf()?;
            let Some(&first) = chunk.first() else {
                return Ok(Mode::Done);
            };
            match first {
                b'[' => {
                    self.consume(1);
                    return Ok(Mode::Array);
                }
                b'\n' => {
                    self.line += 1;
                    self.consume(1);
                }
                b' ' | b'\t' | b'\r' | 0xEF | 0xBB | 0xBF => self.consume(1),
                _ => return Ok(Mode::Lines),
            }
        }
    }

    fn next_line(&mut self) -> io::Result<Option<RawRecord>> {
        let line = self.line;
        let mut buf = Vec::new();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if !any {
                    self.mode = Mode::Done;
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (take, end) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, Some(i + 1)),
                None => (chunk.len(), None),
            };
            if !too_long {
                if buf.len() + take > self.max {
                    too_long = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            match end {
                Some(n) => {
                    self.consume(n);
                    break;
                }
                None => self.consume(take),
            }
        }
        self.line += 1;
        Ok(Some(RawRecord {
            line,
            bytes: (!too_long).then_some(buf),
        }))
    }

    /// The next element of the top-level array: bytes up to a `,` or `]` outside strings and
    /// nesting.
    fn next_element(&mut self) -> io::Result<Option<RawRecord>> {
        let mut buf: Vec<u8> = Vec::new();
        let mut start_line = None;
        let (mut depth, mut in_str, mut escaped, mut too_long) = (0u32, false, false, false);
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                self.mode = Mode::Done;
                break;
            }
            let mut used = 0;
            let mut finished = false;
            for &b in chunk {
                used += 1;
                if b == b'\n' {
                    self.line += 1;
                }
                if in_str {
                    match (escaped, b) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_str = false,
                        _ => {}
                    }
                } else {
                    match b {
                        b',' | b']' if depth == 0 => {
                            if b == b']' {
                                self.mode = Mode::Done;
                            }
                            if start_line.is_some() || b == b']' {
                                finished = true;
                                break;
                            }
                            continue;
                        }
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                if start_line.is_none() {
                    if b.is_ascii_whitespace() {
                        continue;
                    }
                    start_line = Some(self.line);
                }
                if !too_long {
                    if buf.len() >= self.max {
                        too_long = true;
                        buf = Vec::new();
                    } else {
                        buf.push(b);
                    }
                }
            }
            self.consume(used);
            if finished {
                break;
            }
        }
        Ok(start_line.map(|line| RawRecord {
            line,
            bytes: (!too_long).then_some(buf),
        }))
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, max: usize) -> Vec<(u64, Option<String>)> {
        let mut r = RecordReader::with_limit(io::BufReader::with_capacity(4, text.as_bytes()), max);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            let text = rec
                .bytes
                .map(|b| String::from_utf8(b).unwrap().trim().to_owned());
            out.push((rec.line, text));
        }
        assert_eq!(r.position(), text.len() as u64);
        out
    }

    #[test]
    fn json_lines_are_records_and_blank_lines_are_not() {
        let got = all("{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}", 100);
        assert_eq!(
            got,
            vec![
                (1, Some("{\"a\":1}".into())),
                (3, Some("{\"b\":2}".into())),
                (4, Some("{\"c\":3}".into())),
            ]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_and_the_next_is_read() {
        let long = format!("{{\"x\":\"{}\"}}", "y".repeat(50));
        let got = all(&format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n"), 20);
        assert_eq!(
            got,
            vec![
                (1, Some("{\"a\":1}".into())),
                (2, None),
                (3, Some("{\"b\":2}".into()))
            ]
        );
    }

    #[test]
    fn an_array_is_split_into_its_elements_on_one_line_or_many() {
        let one = all(r#" [{"a":"x,]}"},{"b":[1,2]} , {"c":{"d":"\"]"}}]"#, 100);
        assert_eq!(
            one,
            vec![
                (1, Some(r#"{"a":"x,]}"}"#.into())),
                (1, Some(r#"{"b":[1,2]}"#.into())),
                (1, Some(r#"{"c":{"d":"\"]"}}"#.into())),
            ]
        );
        let many = all("[\n{\"a\":1},\n{\"b\":\n2}\n]", 100);
        assert_eq!(
            many,
            vec![
                (2, Some("{\"a\":1}".into())),
                (3, Some("{\"b\":\n2}".into()))
            ]
        );
        assert_eq!(all("[]", 100), vec![]);
        let long = all(
            &format!("[{{\"a\":\"{}\"}},{{\"b\":1}}]", "z".repeat(40)),
            20,
        );
        assert_eq!(long, vec![(1, None), (1, Some("{\"b\":1}".into()))]);
    }
}
