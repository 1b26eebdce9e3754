//! Connecting from another loopback address (127.0.0.2 and up stand in for
//! other clients): std's `TcpStream::connect` cannot bind first, so this
//! binds the socket to `src` with rustix, then connects.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};

/// A TCP connection to `dst` whose local address is `src` (any port).
pub fn connect_from(src: IpAddr, dst: SocketAddr) -> io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let family = if src.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = socket(family, SocketType::STREAM, None)?;
    bind(&fd, &SocketAddr::new(src, 0))?;
    connect(&fd, &dst)?;
    Ok(TcpStream::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_sees_the_chosen_source_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let src: IpAddr = "127.0.0.7".parse().unwrap();
        let _client = connect_from(src, listener.local_addr().unwrap()).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), src);
    }
}
