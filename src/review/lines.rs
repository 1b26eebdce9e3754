//! A line reader with bounded memory, for logs of any size and any content.
//!
//! `BufRead::read_line` grows its buffer to the longest line, so one garbage
//! gigabyte without a newline would be held whole. This reader keeps at most
//! [`MAX_LINE`] bytes of a line; a longer one is still consumed to its newline
//! but reported as [`Line::TooLong`] with its length, never buffered.
//!
//! Reaching the current end of input is a normal condition, not an error:
//! [`LineReader::next_line`] returns `None` and keeps any unterminated tail.
//! A caller that is done (a rotated file, or a one-shot read) asks for that
//! tail with [`LineReader::take_partial`]; `--follow` instead calls
//! `next_line` again later, and the tail joins the rest of its line when the
//! writer appends it.

use std::io::{self, BufRead, BufReader, ErrorKind, Read};

/// The longest line kept. Real records are a few hundred bytes.
pub const MAX_LINE: usize = 1 << 20;

/// One line, without its newline.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Whole(&'a [u8]),
    /// Longer than [`MAX_LINE`]; its bytes were discarded.
    TooLong(u64),
}

/// Reads lines from `R`, numbering them from 1.
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    /// Length of the line in `buf` so far, counting bytes dropped past the limit.
    len: u64,
    /// `buf` holds a line already returned; clear it before reading on.
    returned: bool,
    line_no: u64,
    /// Bytes consumed from the input, newlines included.
    consumed: u64,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            buf: Vec::new(),
            len: 0,
            returned: false,
            line_no: 0,
            consumed: 0,
        }
    }

    /// The next newline-terminated line and its number, or `None` at the
    /// current end of input (an unterminated tail is kept for later).
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.reset_if_returned();
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                // A signal interrupted the read; nothing was lost, read again.
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                // End of input for now: the tail stays in `buf`.
                return Ok(None);
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(chunk.len());
            keep(&mut self.buf, &mut self.len, &chunk[..take]);
            let used = take + usize::from(newline.is_some());
            self.inner.consume(used);
            self.consumed += used as u64;
            if newline.is_some() {
                return Ok(Some(self.hand_out()));
            }
        }
    }

    /// The unterminated tail at end of input, as a final line, if there is one.
    pub fn take_partial(&mut self) -> Option<(u64, Line<'_>)> {
        self.reset_if_returned();
        if self.len == 0 {
            return None;
        }
        Some(self.hand_out())
    }

    /// Bytes consumed so far, including any unterminated tail.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Number of the last line handed out.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    fn reset_if_returned(&mut self) {
        if self.returned {
            self.buf.clear();
            self.len = 0;
            self.returned = false;
        }
    }

    fn hand_out(&mut self) -> (u64, Line<'_>) {
        self.line_no += 1;
        self.returned = true;
        let line = if self.len > MAX_LINE as u64 { Line::TooLong(self.len) } else { Line::Whole(&self.buf) };
        (self.line_no, line)
    }
}

/// Appends `bytes` to the line while it fits; past the limit only counts them.
fn keep(buf: &mut Vec<u8>, len: &mut u64, bytes: &[u8]) {
    *len += bytes.len() as u64;
    if *len <= MAX_LINE as u64 {
        buf.extend_from_slice(bytes);
    } else if !buf.is_empty() {
        // Over the limit: free the memory now rather than at the newline.
        *buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all_lines(input: &[u8]) -> Vec<(u64, String)> {
        let mut reader = LineReader::new(Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        let show = |line: Line<'_>| match line {
            Line::Whole(b) => String::from_utf8_lossy(b).into_owned(),
            Line::TooLong(n) => format!("<{n} bytes>"),
        };
        while let Some((n, line)) = reader.next_line().unwrap() {
            out.push((n, show(line)));
        }
        if let Some((n, line)) = reader.take_partial() {
            out.push((n, format!("partial:{}", show(line))));
        }
        out
    }

    #[test]
    fn lines_are_numbered_and_the_unterminated_tail_comes_last() {
        assert_eq!(
            all_lines(b"a\n\nbc\n{\"torn"),
            vec![(1, "a".into()), (2, "".into()), (3, "bc".into()), (4, "partial:{\"torn".into())]
        );
        assert_eq!(all_lines(b""), vec![]);
        assert_eq!(all_lines(b"x\n"), vec![(1, "x".into())]);
    }

    #[test]
    fn a_line_over_the_limit_is_reported_by_length_and_reading_goes_on() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(all_lines(&input), vec![(1, format!("<{} bytes>", MAX_LINE + 10)), (2, "next".into())]);
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(all_lines(&exact)[0].1.len(), MAX_LINE);
    }

    #[test]
    fn a_tail_is_completed_by_later_appends() {
        // A shared buffer standing in for a file that a writer appends to.
        struct Growing(std::rc::Rc<std::cell::RefCell<Vec<u8>>>, usize);
        impl Read for Growing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let data = self.0.borrow();
                let n = (data.len() - self.1).min(out.len());
                out[..n].copy_from_slice(&data[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let data = std::rc::Rc::new(std::cell::RefCell::new(b"one\ntw".to_vec()));
        let mut reader = LineReader::new(Growing(data.clone(), 0));
        assert_eq!(reader.next_line().unwrap(), Some((1, Line::Whole(b"one"))));
        assert_eq!(reader.next_line().unwrap(), None);
        assert_eq!(reader.consumed(), 6);
        data.borrow_mut().extend_from_slice(b"o\n");
        assert_eq!(reader.next_line().unwrap(), Some((2, Line::Whole(b"two"))));
        assert_eq!(reader.take_partial(), None);
        assert_eq!(reader.line_no(), 2);
    }
}
