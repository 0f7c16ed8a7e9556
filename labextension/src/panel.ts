import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { refreshIcon } from '@jupyterlab/ui-components';

import { checkHandshake, HandshakeReply, HandshakeResult, PROTOCOL } from './handshake';
import { GilgameshRequestError, requestAPI } from './request';
import { LABEXTENSION_VERSION } from './version';

export const PANEL_ID = 'gilgamesh-registry-panel';

export interface VersionRow {
  version: string;
  prerelease: boolean;
  yanked: boolean;
  yank_reason: string | null;
  deprecated: boolean;
  deprecation_message: string | null;
  published_at: string | null;
}

export interface ApiRow {
  name: string;
  summary: string;
  latest: string | null;
  versions: VersionRow[];
}

export interface Listing {
  registry: string;
  notebooks: ApiRow[];
}

export interface PanelActions {
  openDocs(name: string, version: string): void;
  fork(spec: string): void;
}

let handshake: Promise<HandshakeResult> | null = null;

/** The handshake with the server extension, asked once per page. */
export function serverHandshake(): Promise<HandshakeResult> {
  if (handshake === null) {
    const query = `handshake?labextension=${encodeURIComponent(LABEXTENSION_VERSION)}&protocol=${PROTOCOL}`;
    handshake = requestAPI<HandshakeReply>(query).then(
      reply => checkHandshake(LABEXTENSION_VERSION, reply),
      (error: GilgameshRequestError) =>
        checkHandshake(LABEXTENSION_VERSION, null, error.status === 404 ? undefined : error.message)
    );
    handshake.then(result => {
      if (result.message) {
        console.warn(result.message);
      }
    });
  }
  return handshake;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * The left sidebar's registry panel: every API and its versions, yanked and deprecated ones
 * marked. It reads the registry each time it is shown (and on its refresh button), never by
 * polling.
 */
export class RegistryPanel extends Widget {
  private readonly banner: HTMLElement;
  private readonly list: HTMLElement;
  private readonly where: HTMLElement;
  private loading: Promise<void> | null = null;
  /** Milliseconds the last refresh took, from the request to the list on the page. */
  lastRefreshMs = 0;

  constructor(private readonly actions: PanelActions) {
    super();
    this.id = PANEL_ID;
    this.addClass('gilgamesh-RegistryPanel');
    this.title.caption = 'Gilgamesh registry';
    const header = element('div', 'gilgamesh-RegistryPanel-header');
    header.appendChild(element('h2', 'gilgamesh-RegistryPanel-title', 'Gilgamesh registry'));
    const refresh = element('button', 'jp-Button jp-mod-minimal gilgamesh-refresh');
    refresh.title = 'Read the registry again';
    refresh.setAttribute('aria-label', 'Refresh');
    refreshIcon.element({ container: refresh, height: '16px', width: '16px' });
    refresh.addEventListener('click', () => void this.refresh());
    header.appendChild(refresh);
    this.where = element('div', 'gilgamesh-RegistryPanel-where');
    this.banner = element('div', 'gilgamesh-RegistryPanel-banner');
    this.banner.hidden = true;
    this.list = element('ul', 'gilgamesh-RegistryPanel-list');
    this.node.append(header, this.where, this.banner, this.list);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  /** Read the registry and show it (one read at a time). */
  refresh(): Promise<void> {
    if (this.loading === null) {
      this.loading = this.load().finally(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  private showBanner(message: string | null, kind: 'warning' | 'error'): void {
    this.banner.hidden = !message;
    this.banner.textContent = message ?? '';
    this.banner.dataset.kind = kind;
  }

  private async load(): Promise<void> {
    const started = performance.now();
    this.node.dataset.state = 'loading';
    const hand = await serverHandshake();
    if (!hand.usable) {
      this.showBanner(hand.message, 'error');
      this.node.dataset.state = 'error';
      return;
    }
    let listing: Listing;
    try {
      listing = await requestAPI<Listing>('api/notebooks');
    } catch (error) {
      this.showBanner(`Cannot read the registry: ${(error as Error).message}`, 'error');
      this.node.dataset.state = 'error';
      return;
    }
    this.showBanner(hand.message, 'warning');
    this.render(listing);
    this.lastRefreshMs = performance.now() - started;
    this.node.dataset.state = 'ready';
    this.node.dataset.apis = String(listing.notebooks.length);
  }

  private render(listing: Listing): void {
    this.where.textContent = listing.registry;
    this.where.title = `GILGAMESH_REGISTRY: ${listing.registry}`;
    const fragment = document.createDocumentFragment();
    if (!listing.notebooks.length) {
      fragment.appendChild(
        element('li', 'gilgamesh-empty', 'No API is published in this registry yet (gilgamesh publish NB.ipynb).')
      );
    }
    for (const api of listing.notebooks) {
      fragment.appendChild(this.apiItem(api));
    }
    this.list.replaceChildren(fragment);
  }

  private apiItem(api: ApiRow): HTMLElement {
    const item = element('li', 'gilgamesh-api');
    item.dataset.name = api.name;
    const head = element('div', 'gilgamesh-api-head');
    head.appendChild(element('span', 'gilgamesh-api-name', api.name));
    if (api.latest) {
      head.appendChild(element('span', 'gilgamesh-api-latest', api.latest));
    }
    const fork = element('button', 'jp-Button jp-mod-minimal gilgamesh-fork', 'Fork');
    const forkFrom = api.latest ?? api.versions[api.versions.length - 1]?.version;
    fork.title = `Write the working copy of the next version of ${api.name}@${forkFrom} and open it`;
    fork.addEventListener('click', () => this.actions.fork(`${api.name}@${forkFrom}`));
    fork.disabled = !forkFrom;
    head.appendChild(fork);
    item.appendChild(head);
    if (api.summary) {
      item.appendChild(element('div', 'gilgamesh-api-summary', api.summary));
    }
    const versions = element('ul', 'gilgamesh-versions');
    for (const v of [...api.versions].reverse()) {
      const row = element('li', 'gilgamesh-version');
      row.dataset.version = v.version;
      const link = element('button', 'gilgamesh-version-link', v.version);
      link.title = `Open the documentation of ${api.name}@${v.version}`;
      link.addEventListener('click', () => this.actions.openDocs(api.name, v.version));
      row.appendChild(link);
      if (v.yanked) {
        row.classList.add('gilgamesh-mod-yanked');
        const badge = element('span', 'gilgamesh-badge gilgamesh-badge-yanked', 'yanked');
        badge.title = v.yank_reason ? `yanked: ${v.yank_reason}` : 'yanked';
        row.appendChild(badge);
      }
      if (v.deprecated) {
        row.classList.add('gilgamesh-mod-deprecated');
        const badge = element('span', 'gilgamesh-badge gilgamesh-badge-deprecated', 'deprecated');
        badge.title = v.deprecation_message ? `deprecated: ${v.deprecation_message}` : 'deprecated';
        row.appendChild(badge);
      }
      if (v.prerelease) {
        row.appendChild(element('span', 'gilgamesh-badge gilgamesh-badge-pre', 'pre-release'));
      }
      versions.appendChild(row);
    }
    item.appendChild(versions);
    return item;
  }
}
