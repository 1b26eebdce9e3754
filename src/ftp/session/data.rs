//! Setting up the data connection: PASV and EPSV ask the driver for a
//! listener (one accept, only from the control peer's address, before a
//! deadline), PORT and EPRT for an outgoing connection (off unless
//! `--ftp-active`, and only to the control peer's own address on a port
//! of at least 1024, checked before anything is tried). The driver's
//! answers arrive as channel events.
//!
//! A new PASV, EPSV, PORT or EPRT replaces the data connection set up
//! before (its socket or listener is closed). A passive listener that gets
//! no connection by its deadline is closed silently if no transfer waits
//! for it (an unsolicited reply would break the one-reply-per-command
//! pairing clients rely on), and answers 425 to the transfer that does.

use super::{DATA, DataConn, FtpSession, Wait};
use crate::ftp::addr::{self, check_active_target};
use crate::ftp::command::EpsvArg;
use crate::ftp::reply::Reply;
use crate::services::Services;
use crate::session::{ChannelEvent, DriverRequest};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

impl FtpSession {
    /// PASV (`extended` false) or EPSV: asks the driver for a listener; the
    /// reply comes with its answer.
    pub(super) fn pasv(&mut self, extended: bool, now: Instant) {
        if self.epsv_all && !extended {
            return self.reply(Reply::new(501, "PASV is not allowed after EPSV ALL."));
        }
        let ip = self.local.ip();
        if !extended && addr::pasv_address(ip, self.cfg.masquerade).is_none() {
            return self.reply(Reply::new(425, "PASV cannot express an IPv6 address; use EPSV."));
        }
        self.drop_data();
        let ports = self.cfg.passive_ports.first..=self.cfg.passive_ports.last;
        let deadline = now + self.cfg.data_connect_timeout;
        self.requests.push_back(DriverRequest::Listen { channel: DATA, ip, ports, from: self.peer.ip(), deadline });
        self.data = DataConn::Listening;
        self.wait = Wait::Listen { extended };
    }

    pub(super) fn epsv(&mut self, arg: EpsvArg, now: Instant) {
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                self.reply(Reply::new(200, "EPSV ALL ok: only EPSV from now on."));
            }
            EpsvArg::Family(f) if f != family(self.local.ip()) => {
                self.reply(Reply::new(522, "Network protocol not supported, use (1,2)"))
            }
            _ => self.pasv(true, now),
        }
    }

    /// PORT or EPRT.
    pub(super) fn port(&mut self, to: SocketAddr, now: Instant) {
        if self.epsv_all {
            return self.reply(Reply::new(501, "PORT and EPRT are not allowed after EPSV ALL."));
        }
        if !self.cfg.active {
            return self.reply(Reply::new(502, "Active mode is off on this server; use PASV or EPSV."));
        }
        if let Err(e) = check_active_target(to, self.peer.ip()) {
            return self.reply(e.reply());
        }
        self.drop_data();
        let deadline = now + self.cfg.data_connect_timeout;
        self.requests.push_back(DriverRequest::Connect { channel: DATA, to, deadline });
        self.data = DataConn::Connecting;
        self.reply(Reply::new(200, "Active data connection set up."));
    }

    /// Closes the data connection (or its listener), if there is one.
    pub(super) fn drop_data(&mut self) {
        if self.data != DataConn::None {
            self.requests.push_back(DriverRequest::CloseChannel { channel: DATA });
            self.data = DataConn::None;
        }
    }

    pub(super) fn on_channel(&mut self, event: ChannelEvent, now: Instant, svc: &mut Services) {
        match event {
            ChannelEvent::Listening { channel, addr } if channel == DATA => {
                let Wait::Listen { extended } = self.wait else { return };
                self.wait = Wait::Nothing;
                let r = if extended {
                    addr::epsv_reply(addr.port())
                } else {
                    match addr::pasv_address(addr.ip(), self.cfg.masquerade) {
                        Some(ip) => addr::pasv_reply(ip, addr.port()),
                        None => Reply::new(425, "PASV cannot express an IPv6 address; use EPSV."),
                    }
                };
                self.reply(r);
            }
            ChannelEvent::Open { channel, peer } if channel == DATA => {
                if self.data == DataConn::None {
                    // Replaced meanwhile: the close is already queued.
                    return;
                }
                self.data = DataConn::Open(peer);
                self.last_activity = now;
                self.data_opened(now, svc);
            }
            ChannelEvent::Failed { channel, error } if channel == DATA => {
                log::debug!("session {}: data connection: {error}", self.id);
                if let Wait::Listen { .. } = self.wait {
                    self.wait = Wait::Nothing;
                    self.data = DataConn::None;
                    return self.reply(Reply::new(425, "Cannot open a passive port; try again."));
                }
                self.data = DataConn::None;
                self.data_failed(now, svc);
            }
            _ => {}
        }
    }

    /// One line of STAT about the data connection.
    pub(super) fn data_status(&self) -> String {
        match self.data {
            DataConn::None => "Data connection: none".to_owned(),
            DataConn::Listening => "Data connection: passive, waiting for the client".to_owned(),
            DataConn::Connecting => "Data connection: active, connecting".to_owned(),
            DataConn::Open(peer) => format!("Data connection: open with {peer}"),
        }
    }
}

/// RFC 2428's address family number of an address.
fn family(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 1,
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => 1,
        IpAddr::V6(_) => 2,
    }
}
