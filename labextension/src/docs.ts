import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './request';

export interface DocsReply {
  name: string;
  version: string;
  summary: string;
  yanked: boolean;
  yank_reason: string | null;
  deprecated: boolean;
  deprecation_message: string | null;
  html: string;
  api: string;
}

/** The id of the main-area widget showing `name@version`'s documentation. */
export function docsId(name: string, version: string): string {
  return `gilgamesh-docs-${name}-${version.replace(/\./g, '_')}`;
}

/**
 * A version's documentation in the main area: its notebook and API reference as the service's
 * docs pages render them (sanitized on the server), equations typeset by JupyterLab's own
 * typesetter.
 */
export function docsWidget(
  name: string,
  version: string,
  rendermime: IRenderMimeRegistry | null,
  fork: (spec: string) => void
): MainAreaWidget<Widget> {
  const content = new Widget();
  content.addClass('gilgamesh-Docs');
  content.node.dataset.state = 'loading';
  content.node.textContent = `Reading ${name}@${version} ...`;
  const widget = new MainAreaWidget({ content });
  widget.id = docsId(name, version);
  widget.title.label = `${name}@${version}`;
  widget.title.caption = `Documentation of ${name}@${version}`;
  widget.title.closable = true;
  requestAPI<DocsReply>(`docs/${encodeURIComponent(name)}/${encodeURIComponent(version)}`).then(
    reply => {
      const node = content.node;
      node.replaceChildren();
      const header = document.createElement('div');
      header.className = 'gilgamesh-Docs-header';
      const title = document.createElement('h1');
      title.textContent = `${reply.name} ${reply.version}`;
      const forkButton = document.createElement('button');
      forkButton.className = 'jp-Button jp-mod-styled jp-mod-accept gilgamesh-fork';
      forkButton.textContent = 'Fork';
      forkButton.title = `Write the working copy of the next version of ${reply.name}@${reply.version} and open it`;
      forkButton.addEventListener('click', () => fork(`${reply.name}@${reply.version}`));
      header.append(title, forkButton);
      node.appendChild(header);
      if (reply.summary) {
        const summary = document.createElement('p');
        summary.className = 'gilgamesh-Docs-summary';
        summary.textContent = reply.summary;
        node.appendChild(summary);
      }
      for (const [flag, label, why] of [
        [reply.yanked, 'yanked', reply.yank_reason],
        [reply.deprecated, 'deprecated', reply.deprecation_message]
      ] as [boolean, string, string | null][]) {
        if (flag) {
          const note = document.createElement('div');
          note.className = `gilgamesh-Docs-note gilgamesh-badge-${label}`;
          note.textContent = `This version is ${label}${why ? `: ${why}` : ''}.`;
          node.appendChild(note);
        }
      }
      const body = document.createElement('div');
      body.className = 'gilgamesh-Docs-body';
      // Sanitized by the server (nh3, the docs pages' sanitizer): no script, no handler, no style.
      body.innerHTML = reply.html + (reply.api ? `<h2>API reference</h2>${reply.api}` : '');
      node.appendChild(body);
      node.dataset.state = 'ready';
      void rendermime?.latexTypesetter?.typeset(body);
    },
    (error: Error) => {
      content.node.dataset.state = 'error';
      content.node.textContent = `Cannot read ${name}@${version}: ${error.message}`;
    }
  );
  return widget;
}
