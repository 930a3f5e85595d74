//! A WebSocket client written against RFC 6455 on a bare TCP socket, for hostile-peer tests:
//! it sends frames no library client would (reserved bits, invalid UTF-8), stops reading when
//! told, and reports exactly what came back (a close code, a reset, nothing).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use swarm_transport::protocol::Codec;
use swarm_transport::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// The FIN bit of the first header byte.
pub const FIN: u8 = 0x80;
/// The RSV1 bit of the first header byte.
pub const RSV1: u8 = 0x40;

/// What the server did in the end.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code (`None`: no code in it).
    Close(Option<u16>),
    /// The connection ended (FIN) without a close frame.
    Eof,
    /// The connection was reset (ECONNRESET / broken pipe).
    Reset,
    /// Nothing within the time allowed.
    Silent,
}

/// One raw client connection.
pub struct RawWs {
    pub stream: TcpStream,
    buf: Vec<u8>,
    sent: u64,
}

impl RawWs {
    /// Connects and upgrades at `/swarm` with `protocol`; returns the HTTP status too.
    pub async fn connect(addr: SocketAddr, protocol: &str) -> (u16, RawWs) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "GET /swarm HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let status = String::from_utf8_lossy(&head)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (
            status,
            RawWs {
                stream,
                buf: Vec::new(),
                sent: 0,
            },
        )
    }

    /// The bytes of one masked client frame.
    pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// Sends one frame (`first` = FIN/RSV bits | opcode).
    pub async fn send(&mut self, first: u8, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&Self::frame(first, payload)).await
    }

    /// Sends `message` in a binary frame (MessagePack subprotocol), with a fresh id if it has
    /// none (a peer must not reuse ids).
    pub async fn send_message(&mut self, message: &Message) -> io::Result<()> {
        let mut message = message.clone();
        if message.id.is_unset() {
            self.sent += 1;
            message.id = swarm_transport::protocol::MessageId::from_parts(0x5eed, self.sent);
        }
        let body = Codec::default().encode(&message).unwrap();
        self.send(FIN | BINARY, &body).await
    }

    /// Reads frames until a close frame, the end of the connection or `limit`; data frames
    /// are returned as (opcode, payload) in `seen`.
    pub async fn ending(&mut self, limit: Duration, seen: &mut Vec<(u8, Vec<u8>)>) -> Ending {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            while let Some((opcode, payload)) = self.take_frame() {
                if opcode == CLOSE {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Ending::Close(code);
                }
                seen.push((opcode, payload));
            }
            let mut chunk = vec![0u8; 64 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Ending::Silent,
                Ok(Ok(0)) => return Ending::Eof,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ending::Reset
                }
                Ok(Err(e)) => panic!("read failed: {e}"),
            }
        }
    }

    /// The next whole unmasked server frame in the buffer.
    fn take_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < at + len {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let payload = b[at..at + len].to_vec();
        self.buf.drain(..at + len);
        Some((opcode, payload))
    }
}

/// Server-side TCP connections on `port` in the ESTABLISHED state (from /proc/net/tcp): the
/// sockets the node still holds for its peers.
pub fn established_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 3 && cols[1].ends_with(&local) && cols[3] == "01"
        })
        .count()
}
