//! Transfers on the data connection (placeholder while the shared services
//! are factored out).

use super::{FtpSession, plain};
use crate::ftp::command::Command;
use crate::protocol::ErrorCode;
use crate::services::Services;
use crate::session::{CloseReason, FileRange};
use std::io::{self, Read, Write};
use std::time::Instant;

impl FtpSession {
    pub(super) fn transfer_busy(&self) -> bool {
        false
    }
    pub(super) fn transfer_running(&self) -> bool {
        false
    }
    pub(super) fn data_wants_read(&self) -> bool {
        false
    }
    pub(super) fn data_wants_write(&self) -> bool {
        false
    }
    pub(super) fn data_read(
        &mut self,
        rd: &mut dyn Read,
        scratch: &mut [u8],
        budget: &mut crate::session::Budget,
        _now: Instant,
        _svc: &mut Services,
    ) -> io::Result<usize> {
        let take = scratch.len().min(budget.left().max(16 * 1024));
        let n = rd.read(&mut scratch[..take])?;
        budget.charge(n.max(1));
        Ok(n)
    }
    pub(super) fn data_write(
        &mut self,
        _wr: &mut dyn Write,
        _budget: &mut crate::session::Budget,
        _now: Instant,
        _svc: &mut Services,
    ) -> io::Result<usize> {
        Ok(0)
    }
    pub(super) fn data_file_range(&self) -> Option<FileRange<'_>> {
        None
    }
    pub(super) fn data_advance_file(&mut self, _n: usize, _now: Instant) {}
    pub(super) fn data_file_truncated(&mut self, _now: Instant, _svc: &mut Services) {}
    pub(super) fn data_opened(&mut self, _now: Instant, _svc: &mut Services) {}
    pub(super) fn data_failed(&mut self, _now: Instant, _svc: &mut Services) {}
    pub(super) fn take_rename_source(&mut self, _cmd: &Command) -> Option<()> {
        None
    }
    pub(super) fn file_command(&mut self, _cmd: Command, _renaming: Option<()>, _now: Instant, _svc: &mut Services) {
        self.reply(plain(ErrorCode::Internal));
    }
    pub(super) fn finish(&mut self, reason: CloseReason, _now: Instant, svc: &mut Services) {
        let why = match reason {
            CloseReason::PeerClosed => "peer closed the connection",
            CloseReason::Timeout => "timeout",
            CloseReason::Done => "session ended",
            CloseReason::Shutdown => "server shutting down",
        };
        self.end_login(why, reason == CloseReason::Timeout, svc);
    }
}
