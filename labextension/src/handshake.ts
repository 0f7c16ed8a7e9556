/**
 * The version handshake between this lab extension and Gilgamesh's server extension
 * (`GET {base_url}gilgamesh/handshake`): both come from one `pip install 'gilgamesh[lab]'`, and a
 * page left open across an upgrade, or two environments mixed, must say so instead of failing
 * in odd ways.
 */

/** The shape of the routes this lab extension reads (service/jupyter/protocol.py's PROTOCOL). */
export const PROTOCOL = 1;

export interface HandshakeReply {
  name: string;
  version: string;
  protocol: number;
  registry?: string;
}

export type HandshakeState = 'ok' | 'differ' | 'incompatible' | 'missing';

export interface HandshakeResult {
  state: HandshakeState;
  /** Whether the panel can read the registry (`ok` or `differ`). */
  usable: boolean;
  /** What the panel shows; null when both sides are the same release. */
  message: string | null;
}

const REINSTALL =
  "reinstall it with pip install 'gilgamesh[lab]' in the environment that runs JupyterLab, restart JupyterLab and reload this page";

/**
 * What the panel says of the server's reply. `reply` is null when the route is not there
 * (404: the server extension is not enabled), `error` any other failure to reach it.
 */
export function checkHandshake(
  labextension: string,
  reply: HandshakeReply | null,
  error?: string
): HandshakeResult {
  if (reply === null || typeof reply !== 'object' || reply.name !== 'gilgamesh') {
    const why = error ? ` (${error})` : '';
    return {
      state: 'missing',
      usable: false,
      message:
        `The Gilgamesh server extension is not running in this Jupyter server${why}: ` +
        `enable it with jupyter server extension enable gilgamesh.service.jupyter, or ${REINSTALL}.`
    };
  }
  if (reply.protocol !== PROTOCOL) {
    return {
      state: 'incompatible',
      usable: false,
      message:
        `Gilgamesh's lab extension ${labextension} (protocol ${PROTOCOL}) cannot talk to its server ` +
        `extension ${reply.version} (protocol ${reply.protocol}): ${REINSTALL}.`
    };
  }
  if (reply.version !== labextension) {
    return {
      state: 'differ',
      usable: true,
      message:
        `Gilgamesh's lab extension is ${labextension} but its server extension is ${reply.version}: ` +
        `${REINSTALL}.`
    };
  }
  return { state: 'ok', usable: true, message: null };
}
