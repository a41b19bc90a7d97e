//! A minimal HTTP/1.1 client over `std::net` for the tests (loopback only).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends one request; answers the status and the body parsed as JSON
/// (`Value::Null` if it is not JSON).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, serde_json::Value)> {
    let (status, payload) = request_text(addr, method, path, body)?;
    let json = serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

/// Sends one request; answers the status and the body as text.
pub fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, payload))
}

/// A chunked body, joined.
pub fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// GET, expecting JSON.
pub fn get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    request(addr, "GET", path, None).unwrap_or((0, serde_json::Value::Null))
}

/// POST a JSON body.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    request(addr, "POST", path, Some(body)).unwrap_or((0, serde_json::Value::Null))
}
