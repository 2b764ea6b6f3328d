/**
 * A connection to a template's unix socket for one channel of one execution. The first line sent
 * is the channel's JSON header, and template.py reads nothing else before it forks. After the
 * fork the connection is the child's stdin and stdout, its stderr, or its result channel.
 */
import net from "node:net";
import { TemplateLostError } from "./errors.js";

/** Connects and sends the header; rejects with TemplateLostError when nothing listens. */
export function openConnection(socketPath: string, header: object): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const fail = (error: Error) => {
      socket.destroy();
      reject(new TemplateLostError(`connecting to ${socketPath} failed: ${error.message}`));
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      socket.off("error", fail);
      // Later errors (a write after the child exited) end the streams; the executor reads them.
      socket.on("error", () => {});
      socket.write(`${JSON.stringify(header)}\n`);
      resolve(socket);
    });
  });
}
