// server.mjs - the peer that `make bench-ingress` measures ingress against (#13's target 6:
// ingress at least 6 times its rate). It takes Twilio's inbound webhook the way a Node service
// commonly does: Express parses the form, twilio.webhook() checks X-Twilio-Signature against
// the public URL, and kafkajs writes the message to Kafka; the 204 waits for the broker's
// acknowledgement (acks=all), as ingress's does.
//
// Ingress's producer is idempotent as well; kafkajs's idempotent producer allows one request in
// flight per broker, which would slow the peer down, so it is left out: the comparison favours
// the peer. PORT, PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, KAFKA_BROKERS, PEER_TOPIC.
import express from 'express';
import twilio from 'twilio';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const env = process.env;
const url = `${env.PUBLIC_BASE_URL.replace(/\/+$/, '')}/api/whatsapp/twilio`;
const kafka = new Kafka({ clientId: 'bench-peer', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.WARN });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();

const app = express();
app.post('/api/whatsapp/twilio', express.urlencoded({ extended: false }), twilio.webhook({ url }),
  async (req, res) => {
    try {
      await producer.send({
        topic: env.PEER_TOPIC,
        acks: -1,
        messages: [{ key: String(req.body.From ?? ''), value: JSON.stringify(req.body) }],
      });
      res.status(204).end();
    } catch (e) {
      console.error(`kafka: ${e.message}`);
      res.status(503).end();
    }
  });
app.listen(Number(env.PORT), '127.0.0.1', () => console.log(`peer listening on ${env.PORT}`));
