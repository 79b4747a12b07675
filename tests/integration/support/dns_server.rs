//! An in-process hickory-server for answers rbldnsd cannot give: SERVFAIL, a silent or slow
//! server. It runs on its own thread and runtime on a free loopback port, stopped on Drop.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, PTR, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::sync::oneshot;

/// What the server answers to one question.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// These A records (and a TXT "test reason" to TXT queries).
    A(Vec<Ipv4Addr>),
    /// A PTR record naming this host (to PTR queries; NODATA to others).
    Ptr(String),
    /// NOERROR without records (what a resolver that strips answers gives).
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// SERVFAIL.
    ServFail,
    /// Nothing at all: the client times out.
    Silent,
    /// The reply after a pause.
    Delayed(Duration, Box<Reply>),
    /// NOERROR with those of these records whose type was asked (none: NODATA).
    Records(Vec<RData>),
}

type Rule = dyn Fn(&str) -> Reply + Send + Sync;

struct Handler {
    rule: Arc<Rule>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let query = &request.queries.queries()[0];
        let name: Name = query.name().into();
        let text = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let mut reply = (self.rule)(&text);
        while let Reply::Delayed(pause, inner) = reply {
            tokio::time::sleep(pause).await;
            reply = *inner;
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let silent = ResponseInfo::from(Header {
            metadata,
            counts: HeaderCounts::default(),
        });
        let builder = MessageResponseBuilder::from_message_request(request);
        let records: Vec<Record> = match &reply {
            Reply::A(addrs) if query.query_type() == RecordType::A => addrs
                .iter()
                .map(|a| Record::from_rdata(name.clone(), 60, RData::A(A(*a))))
                .collect(),
            Reply::A(_) if query.query_type() == RecordType::TXT => {
                vec![Record::from_rdata(
                    name.clone(),
                    60,
                    RData::TXT(TXT::new(vec!["test reason".into()])),
                )]
            }
            Reply::Ptr(host) if query.query_type() == RecordType::PTR => {
                let target = Name::from_ascii(format!("{host}.")).expect("PTR name");
                vec![Record::from_rdata(
                    name.clone(),
                    60,
                    RData::PTR(PTR(target)),
                )]
            }
            Reply::Records(data) => data
                .iter()
                .filter(|d| d.record_type() == query.query_type())
                .map(|d| Record::from_rdata(name.clone(), 60, d.clone()))
                .collect(),
            _ => Vec::new(),
        };
        let sent = match reply {
            Reply::Silent | Reply::Delayed(..) => return silent,
            Reply::ServFail => {
                response
                    .send_response(builder.error_msg(&request.metadata, ResponseCode::ServFail))
                    .await
            }
            Reply::NxDomain => {
                response
                    .send_response(builder.error_msg(&request.metadata, ResponseCode::NXDomain))
                    .await
            }
            Reply::A(_) | Reply::Ptr(_) | Reply::NoData | Reply::Records(_) => {
                response
                    .send_response(builder.build(metadata, records.iter(), [], [], []))
                    .await
            }
        };
        sent.unwrap_or(silent)
    }
}

/// A running in-process DNS server.
pub(crate) struct FakeDns {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDns {
    /// Starts a server answering every question with `rule(name)` (name lowercase, no dot).
    pub(crate) fn start(rule: impl Fn(&str) -> Reply + Send + Sync + 'static) -> FakeDns {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let rule: Arc<Rule> = Arc::new(rule);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(async move {
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                port_tx
                    .send(socket.local_addr().expect("addr").port())
                    .expect("send port");
                let mut server = Server::new(Handler { rule });
                server.register_socket(socket);
                let _ = stop_rx.await;
                let _ = server.shutdown_gracefully().await;
            });
        });
        let port = port_rx.recv().expect("server port");
        FakeDns {
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
