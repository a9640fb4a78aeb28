//! Where `rexim -bd` listens: `local_interfaces` × `daemon_smtp_ports`, and `-oX`.

use std::net::{IpAddr, SocketAddr};

/// A port given by number or by one of the usual service names.
fn port_value(p: &str) -> Result<u16, String> {
    let p = p.trim();
    match p {
        "smtp" => Ok(25),
        "smtps" | "submissions" => Ok(465),
        "submission" => Ok(587),
        _ => p
            .parse()
            .map_err(|_| format!("invalid port \"{p}\" (a number or smtp/submission/smtps)")),
    }
}

/// One `local_interfaces` item: `addr`, `addr.port` or `[addr]:port`.
fn interface_item(item: &str) -> Result<(IpAddr, Option<u16>), String> {
    let t = item.trim();
    if let Some(rest) = t.strip_prefix('[') {
        let (a, p) = rest
            .split_once(']')
            .ok_or_else(|| format!("malformed interface \"{t}\""))?;
        let ip: IpAddr = a
            .parse()
            .map_err(|_| format!("malformed interface \"{t}\""))?;
        let port = match p.strip_prefix(':') {
            Some(p) => Some(port_value(p)?),
            None if p.is_empty() => None,
            None => return Err(format!("malformed interface \"{t}\"")),
        };
        return Ok((ip, port));
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match crate::cli::bh::split_address(t) {
        Some((a, p)) => {
            let ip = a
                .parse()
                .map_err(|_| format!("malformed interface \"{t}\""))?;
            Ok((ip, Some(p)))
        }
        None => Err(format!("malformed interface \"{t}\"")),
    }
}

/// The addresses to listen on: `local_interfaces` × `daemon_smtp_ports`, as `-oX` changes them
/// (its items with `.` or `:` replace the interfaces, the others the ports).
pub fn listen_addresses(
    interfaces: &str,
    ports: &str,
    ox: Option<&str>,
) -> Result<Vec<SocketAddr>, String> {
    let (mut interfaces, mut ports) = (interfaces.to_string(), ports.to_string());
    if let Some(x) = ox {
        // As Exim: each item with a `.` or `:` is an interface, any other a port; an
        // item list replaces the option it belongs to. Commas also separate plain ports.
        let (mut ifs, mut ps) = (Vec::new(), Vec::new());
        for item in crate::expand::lists::iter(x.as_bytes()) {
            let item = String::from_utf8_lossy(&item).into_owned();
            if item.contains(['.', ':']) {
                ifs.push(item);
            } else {
                ps.extend(item.split(',').map(|p| p.trim().to_string()));
            }
        }
        if !ifs.is_empty() {
            interfaces = format!("<; {}", ifs.join(" ; "));
        }
        if !ps.is_empty() {
            ports = format!("<; {}", ps.join(" ; "));
        }
    }
    let mut port_list = Vec::new();
    for p in crate::expand::lists::iter(ports.as_bytes()) {
        port_list.push(port_value(&String::from_utf8_lossy(&p))?);
    }
    if port_list.is_empty() {
        return Err("no SMTP ports to listen on (daemon_smtp_ports is empty)".into());
    }
    let mut out = Vec::new();
    for item in crate::expand::lists::iter(interfaces.as_bytes()) {
        let (ip, port) = interface_item(&String::from_utf8_lossy(&item))?;
        match port {
            Some(p) => out.push(SocketAddr::new(ip, p)),
            None => out.extend(port_list.iter().map(|p| SocketAddr::new(ip, *p))),
        }
    }
    if out.is_empty() {
        return Err("no interfaces to listen on (local_interfaces is empty)".into());
    }
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_from_options() {
        let a = listen_addresses("127.0.0.1", "2525", None).unwrap();
        assert_eq!(a, vec!["127.0.0.1:2525".parse().unwrap()]);
        let a = listen_addresses("<; ::1 ; 127.0.0.1.26", "smtp : 587", None).unwrap();
        assert_eq!(
            a,
            vec![
                "[::1]:25".parse().unwrap(),
                "[::1]:587".parse().unwrap(),
                "127.0.0.1:26".parse().unwrap()
            ]
        );
        let a = listen_addresses("127.0.0.1", "25", Some("2526,2527")).unwrap();
        assert_eq!(
            a,
            vec![
                "127.0.0.1:2526".parse().unwrap(),
                "127.0.0.1:2527".parse().unwrap()
            ]
        );
        let a = listen_addresses("0.0.0.0", "25", Some("<; [127.0.0.1]:2528")).unwrap();
        assert_eq!(a, vec!["127.0.0.1:2528".parse().unwrap()]);
        let a = listen_addresses("0.0.0.0", "25", Some("<; 127.0.0.1 ; 2529")).unwrap();
        assert_eq!(a, vec!["127.0.0.1:2529".parse().unwrap()]);
        let a = listen_addresses("0.0.0.0", "25", Some("127.0.0.1.2530")).unwrap();
        assert_eq!(a, vec!["127.0.0.1:2530".parse().unwrap()]);
        assert!(listen_addresses("127.0.0.1", "nosuch", None).is_err());
        assert!(listen_addresses("not-an-ip", "25", None).is_err());
        assert!(listen_addresses("", "25", None).is_err());
    }
}
