//! The outbound guard: every URL socialcare calls on someone's behalf (an integrator's callback
//! URL, a team's escalation URL) passes here. Such a URL is chosen by someone outside, so it may
//! point at this machine or its network: the Lambda runtime API on 127.0.0.1:9001, the instance
//! metadata on 169.254.169.254, services inside a VPC or beside the local runner.
//!
//! - `https` only;
//! - the host's addresses, after DNS resolution, must all be public; the connection is made to
//!   the addresses checked (the client resolves through [`GuardedResolver`]), so a name that
//!   resolves differently a moment later cannot slip through;
//! - no redirects, no proxy (a proxy would resolve the name itself), and answers are read up to
//!   [`crate::MAX_ANSWER_BYTES`].
//!
//! Development and tests, whose fakes listen on loopback, opt out with one explicit setting:
//! `SOCIALCARE_ALLOW_PRIVATE_TARGETS=true` (which also allows plain `http`).

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The setting that lets callbacks and notices reach private addresses and plain http.
pub const ALLOW_PRIVATE_TARGETS: &str = "SOCIALCARE_ALLOW_PRIVATE_TARGETS";

/// Why a URL is not called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("is not a valid URL")]
    NotAUrl,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("must name a host")]
    NoHost,
    #[error("points at a private, loopback or otherwise non-public address ({0})")]
    PrivateAddress(IpAddr),
    #[error("names a host of this machine or its network ({0})")]
    LocalName(String),
    #[error("names a reserved host that never resolves ({0})")]
    NeverResolves(String),
}

/// Which URLs may be called on someone's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboundGuard {
    allow_private: bool,
}

impl OutboundGuard {
    /// Public https targets only: the default everywhere.
    pub fn strict() -> Self {
        Self {
            allow_private: false,
        }
    }

    /// Any http(s) target, private addresses included: for development and tests only.
    pub fn allowing_private_targets() -> Self {
        Self {
            allow_private: true,
        }
    }

    /// [`Self::strict`] unless `SOCIALCARE_ALLOW_PRIVATE_TARGETS` is `true`.
    pub fn from_env() -> Self {
        let allowed = std::env::var(ALLOW_PRIVATE_TARGETS)
            .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
        match allowed {
            true => Self::allowing_private_targets(),
            false => Self::strict(),
        }
    }

    pub fn allows_private_targets(&self) -> bool {
        self.allow_private
    }

    /// Everything that can be known of `raw` without resolving it: a URL refused here can
    /// never be called (answer it at intake); one accepted may still resolve to a private
    /// address, which the client refuses when it connects.
    pub fn check(&self, raw: &str) -> Result<Url, Refused> {
        let url = Url::parse(raw).map_err(|_| Refused::NotAUrl)?;
        match (url.scheme(), self.allow_private) {
            ("https", _) | ("http", true) => {}
            _ => return Err(Refused::NotHttps),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        // `.invalid` never resolves (RFC 6761); socialcare-local answers its sample customer's
        // callback under that name itself, so nobody else may name it.
        if let Some(url::Host::Domain(name)) = url.host() {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "invalid" || name.ends_with(".invalid") {
                return Err(Refused::NeverResolves(name));
            }
        }
        if self.allow_private {
            return url.host().map(|_| url.clone()).ok_or(Refused::NoHost);
        }
        match url.host().ok_or(Refused::NoHost)? {
            url::Host::Ipv4(ip) => refuse_private(IpAddr::V4(ip))?,
            url::Host::Ipv6(ip) => refuse_private(IpAddr::V6(ip))?,
            url::Host::Domain(name) => refuse_local_name(name)?,
        }
        Ok(url)
    }

    /// A client for guarded calls: it resolves through [`GuardedResolver`] (unless private
    /// targets are allowed), follows no redirect and uses no proxy.
    pub fn client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        // No redirect (it could lead anywhere) and no proxy (it would resolve the name).
        let builder = crate::client_builder(timeout).no_proxy();
        match self.allow_private {
            true => builder.build(),
            false => builder.dns_resolver(Arc::new(GuardedResolver)).build(),
        }
    }
}

fn refuse_private(ip: IpAddr) -> Result<(), Refused> {
    match is_public(ip) {
        true => Ok(()),
        false => Err(Refused::PrivateAddress(ip)),
    }
}

fn refuse_local_name(name: &str) -> Result<(), Refused> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let local = name == "localhost"
        || [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        // A single label resolves through the machine's search domains.
        || !name.contains('.');
    match local {
        true => Err(Refused::LocalName(name)),
        false => Ok(()),
    }
}

/// Resolves with the system resolver and answers only public addresses; a name with any
/// non-public address is refused whole (a name that answers both is not to be trusted).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // The port is replaced by the connector; 0 only satisfies the lookup's signature.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if let Some(private) = found.iter().map(SocketAddr::ip).find(|ip| !is_public(*ip)) {
                return Err(Box::new(Refused::PrivateAddress(private))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a public unicast address: not unspecified, loopback, private, shared
/// (carrier-grade NAT), link-local, unique-local, multicast, broadcast, documentation,
/// benchmarking or reserved; IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4) is judged as
/// the IPv4 address it carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0                                // "this network"
        || a == 10                                      // private
        || a == 127                                     // loopback
        || (a == 100 && (64..128).contains(&b))         // shared address space (CGNAT)
        || (a == 169 && b == 254)                       // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))          // private
        || (a == 192 && b == 0 && c == 0)               // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)               // documentation
        || (a == 192 && b == 88 && c == 99)             // 6to4 relay anycast
        || (a == 192 && b == 168)                       // private
        || (a == 198 && (18..20).contains(&b))          // benchmarking
        || (a == 198 && b == 51 && c == 100)            // documentation
        || (a == 203 && b == 0 && c == 113)             // documentation
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match segments {
        // unspecified, loopback, and the deprecated IPv4-compatible form, never routed
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 reaches the IPv4 address it carries
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // 6to4 likewise
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        [first, second, ..] => {
            let refused = (first & 0xfe00) == 0xfc00    // unique local
                || (first & 0xffc0) == 0xfe80           // link-local
                || (first & 0xffc0) == 0xfec0           // site-local (deprecated)
                || (first & 0xff00) == 0xff00           // multicast
                || (first == 0x2001 && second == 0x0db8) // documentation
                || (first == 0x0100 && segments[1..4] == [0, 0, 0]) // discard
                || (first == 0x64 && second == 0xff9b); // local-use NAT64 and the rest of it
            !refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2a00:1450:4001::200e",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} is public");
        }
    }

    /// The local runner answers its sample customer's `.invalid` callback itself: no
    /// integrator may name such a host, even where private targets are allowed.
    #[test]
    fn a_reserved_name_that_never_resolves_is_refused_everywhere() {
        for guard in [
            OutboundGuard::strict(),
            OutboundGuard::allowing_private_targets(),
        ] {
            assert_eq!(
                guard.check("https://sample.socialcare.invalid/replies"),
                Err(Refused::NeverResolves("sample.socialcare.invalid".into()))
            );
            assert_eq!(
                guard.check("https://INVALID./x"),
                Err(Refused::NeverResolves("invalid".into()))
            );
        }
        assert!(
            OutboundGuard::strict()
                .check("https://crm.example.com/hooks")
                .is_ok()
        );
    }

    #[test]
    fn refuses_what_can_never_be_called() {
        let strict = OutboundGuard::strict();
        let cases = [
            ("http://crm.example.com/replies", Refused::NotHttps),
            ("ftp://crm.example.com/", Refused::NotHttps),
            ("not a url", Refused::NotAUrl),
            (
                "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
                Refused::PrivateAddress("127.0.0.1".parse().unwrap()),
            ),
            (
                "https://[::1]/",
                Refused::PrivateAddress("::1".parse().unwrap()),
            ),
            (
                "https://169.254.169.254/latest/meta-data/",
                Refused::PrivateAddress("169.254.169.254".parse().unwrap()),
            ),
            // The URL parser reads these forms of 127.0.0.1 as the address they are.
            (
                "https://2130706433/",
                Refused::PrivateAddress("127.0.0.1".parse().unwrap()),
            ),
            (
                "https://0x7f.1/",
                Refused::PrivateAddress("127.0.0.1".parse().unwrap()),
            ),
            ("https://localhost/", Refused::LocalName("localhost".into())),
            (
                "https://LOCALHOST./",
                Refused::LocalName("localhost".into()),
            ),
            (
                "https://db.internal/",
                Refused::LocalName("db.internal".into()),
            ),
            ("https://intranet/", Refused::LocalName("intranet".into())),
            ("https://user:pw@crm.example.com/", Refused::Credentials),
        ];
        for (url, refused) in cases {
            assert_eq!(strict.check(url), Err(refused), "{url}");
        }
        assert_eq!(
            strict
                .check("https://crm.example.com/replies?x=1")
                .unwrap()
                .as_str(),
            "https://crm.example.com/replies?x=1"
        );
        let open = OutboundGuard::allowing_private_targets();
        assert!(open.check("http://127.0.0.1:9001/").is_ok());
        assert_eq!(open.check("ftp://127.0.0.1/"), Err(Refused::NotHttps));
    }

    /// A name is judged by what it resolves to, when the connection is made.
    #[tokio::test]
    async fn the_client_refuses_a_name_that_resolves_to_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_millis(500), listener.accept())
                .await
                .is_ok()
        });
        let client = OutboundGuard::strict()
            .client(Duration::from_secs(2))
            .unwrap();
        // "localhost" passes no syntax check here: the resolver alone must refuse it.
        let error = client
            .post(format!("https://localhost:{port}/hook"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            crate::refusal(&error),
            Some(&Refused::PrivateAddress("127.0.0.1".parse().unwrap())),
            "{error:?}"
        );
        assert!(!accepted.await.unwrap(), "no connection reached loopback");
    }

    #[test]
    fn the_setting_must_say_true() {
        for (value, allowed) in [("true", true), ("TRUE", true), ("1", false), ("", false)] {
            // SAFETY: this test alone reads or writes this variable in this process.
            unsafe { std::env::set_var(ALLOW_PRIVATE_TARGETS, value) };
            assert_eq!(
                OutboundGuard::from_env().allows_private_targets(),
                allowed,
                "{value:?}"
            );
        }
        unsafe { std::env::remove_var(ALLOW_PRIVATE_TARGETS) };
        assert!(!OutboundGuard::from_env().allows_private_targets());
    }
}
