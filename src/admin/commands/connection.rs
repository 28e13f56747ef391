//! `consumerConnection` and `producerConnection` (`ConsumerConnectionSubCommand`,
//! `ProducerConnectionSubCommand`): the clients of a group connected to a broker, with their
//! address, language and version, and for consumers the group's subscriptions.

use ringmq_protocol::body::admin::ProducerConnection;
use ringmq_protocol::body::JsonBody as _;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::GetProducerConnectionListRequestHeader;
use ringmq_protocol::mq_version::version_desc;
use ringmq_protocol::request_code;

use super::group::consumer_connection;
use super::{route_brokers, topic_route, valued, Command};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};

pub(super) const CONSUMER: Command = Command {
    name: "consumerConnection",
    description: "Query consumer's socket connection, client version and subscription.",
    options: &[
        valued("g", "consumerGroup", true, "consumer group name"),
        valued("b", "brokerAddr", false, "broker address"),
    ],
    run: consumer,
};

pub(super) const PRODUCER: Command = Command {
    name: "producerConnection",
    description: "Query producer's socket connection and client version.",
    options: &[
        valued("g", "producerGroup", true, "producer group name"),
        valued("t", "topic", true, "topic name"),
    ],
    run: producer,
};

fn consumer(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let group = invocation.required("consumerGroup")?.trim();
    let broker = invocation.value("brokerAddr").map(str::trim);
    let connection = consumer_connection(&invocation.namesrv()?, group, broker)?;
    if format == Format::Json {
        println!("{}", String::from_utf8_lossy(&connection.encode()));
        return Ok(());
    }
    println!(
        "{:<36} {:<22} {:<10} #Version",
        "#ClientId", "#ClientAddr", "#Language"
    );
    for client in &connection.connection_set {
        println!(
            "{:<36} {:<22} {:<10} {}",
            client.client_id,
            client.client_addr,
            client.language,
            version_desc(client.version)
        );
    }
    println!();
    println!("Below is subscription:");
    println!("{:<20} #SubExpression", "#Topic");
    for subscription in connection.subscription_table.values() {
        println!("{:<20} {}", subscription.topic, subscription.sub_string);
    }
    println!();
    let or_null = |value: &Option<String>| value.clone().unwrap_or_else(|| "null".to_owned());
    println!("ConsumeType: {}", or_null(&connection.consume_type));
    println!("MessageModel: {}", or_null(&connection.message_model));
    println!(
        "ConsumeFromWhere: {}",
        or_null(&connection.consume_from_where)
    );
    Ok(())
}

fn producer(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let group = invocation.required("producerGroup")?.trim();
    let topic = invocation.required("topic")?.trim();
    let route = topic_route(&invocation.namesrv()?, topic)?;
    let Some((_, address)) = route_brokers(&route).into_iter().next() else {
        return Err(AdminError::NoBroker(format!(
            "the route of topic [{topic}]"
        )));
    };
    let mut request = RemotingCommand::request(request_code::GET_PRODUCER_CONNECTION_LIST);
    GetProducerConnectionListRequestHeader {
        producer_group: group.to_owned(),
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    let connection: ProducerConnection = client::decode(&address, &response)?;
    if connection.connection_set.is_empty() {
        return Err(AdminError::NotFound(format!(
            "Not found the producer group [{group}] connection on broker {address}"
        )));
    }
    if format == Format::Json {
        println!("{}", String::from_utf8_lossy(&connection.encode()));
        return Ok(());
    }
    for (number, client) in connection.connection_set.iter().enumerate() {
        println!(
            "{:04}  {:<32} {:<22} {:<8} {}",
            number + 1,
            client.client_id,
            client.client_addr,
            client.language,
            version_desc(client.version)
        );
    }
    Ok(())
}
