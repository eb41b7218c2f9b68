// kafkajs log entries → a pino-like logger `{debug,info,warn,error}(obj, msg)`.
import { logLevel } from 'kafkajs';
import type { logCreator } from 'kafkajs';
import type { KafkaLogger } from '../port.ts';

export function toLogCreator(logger: KafkaLogger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      // kafkajs adds its own timestamp and logger name; the supplied logger has its own.
      const { message, timestamp: _t, logger: _l, ...fields } = log;
      const obj = { ...fields, kafkajs: namespace };
      const msg = String(message);
      if (level === logLevel.ERROR) logger.error(obj, msg);
      else if (level === logLevel.WARN) logger.warn(obj, msg);
      else if (level === logLevel.INFO) logger.info(obj, msg);
      else logger.debug(obj, msg);
    };
}
