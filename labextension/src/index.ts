import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog, MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { docsId, docsWidget } from './docs';
import { RegistryPanel } from './panel';
import { requestAPI } from './request';
import { formatNameSpec, parseNameSpec } from './spec';
import { ImportsModel, ImportsStatus } from './status';

const ICON = new LabIcon({
  name: 'gilgamesh:registry',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M4 3h16v4H4zM4 10h16v4H4zM4 17h16v4H4z" opacity="0.85"/><path d="M6 4.5h3v1H6zM6 11.5h3v1H6zM6 18.5h3v1H6z" fill="#fff"/></g></svg>'
});

export namespace CommandIDs {
  export const openRegistry = 'gilgamesh:open-registry';
  export const openDocs = 'gilgamesh:open-docs';
  export const fork = 'gilgamesh:fork';
}

interface ForkReply {
  name: string;
  from: string;
  version: string;
  path: string;
  directories: string[];
  kernel: { name: string; display_name: string };
  content: any;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'gilgamesh-lab:plugin',
  description: "Gilgamesh's registry in JupyterLab: its APIs and versions, docs, fork, the imported versions.",
  autoStart: true,
  requires: [IDocumentManager],
  optional: [
    ILabShell,
    ILayoutRestorer,
    ICommandPalette,
    INotebookTracker,
    IRenderMimeRegistry,
    IStatusBar,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null,
    statusBar: IStatusBar | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const { commands, shell, serviceManager } = app;

    const panel = new RegistryPanel({
      openDocs: (name, version) => void commands.execute(CommandIDs.openDocs, { spec: `${name}@${version}` }),
      fork: spec => void commands.execute(CommandIDs.fork, { spec })
    });
    panel.title.icon = ICON;
    shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);

    commands.addCommand(CommandIDs.openRegistry, {
      label: 'Open the Gilgamesh Registry',
      caption: 'Show the registry panel: every API and its versions',
      execute: () => {
        shell.activateById(panel.id);
        return panel.refresh();
      }
    });

    commands.addCommand(CommandIDs.openDocs, {
      label: args => (args.spec ? `Documentation of ${args.spec}` : 'Open the Documentation of an API Version'),
      execute: async args => {
        let text = args.spec as string | undefined;
        if (!text) {
          const answer = await InputDialog.getText({ title: 'Documentation of (NAME@VERSION)' });
          if (!answer.button.accept || !answer.value) {
            return;
          }
          text = answer.value;
        }
        const { name, spec } = parseNameSpec(text);
        const version = spec || 'latest'; // the server resolves "latest" to the latest release
        const id = docsId(name, version);
        const open = Array.from(shell.widgets('main')).find(w => w.id === id);
        if (open) {
          shell.activateById(id);
          return open;
        }
        const widget: MainAreaWidget<Widget> = docsWidget(name, version, rendermime, s =>
          void commands.execute(CommandIDs.fork, { spec: s })
        );
        shell.add(widget, 'main');
        shell.activateById(widget.id);
        return widget;
      }
    });

    commands.addCommand(CommandIDs.fork, {
      label: args => (args.spec ? `Fork ${args.spec}` : 'Fork a Gilgamesh API Version'),
      caption: 'Write the working copy of the next version and open it in the Gilgamesh kernel',
      execute: async args => {
        let text = args.spec as string | undefined;
        if (!text) {
          const answer = await InputDialog.getText({ title: 'Fork (NAME@SPEC)', placeholder: 'langmuir@1.2' });
          if (!answer.button.accept || !answer.value) {
            return;
          }
          text = answer.value;
        }
        try {
          const spec = formatNameSpec(parseNameSpec(text));
          // Default: into the folder the file browser shows (as `gilgamesh fork` writes into the working directory).
          const given = args.path as string | undefined;
          const path = given ?? (fileBrowser ? `${fileBrowser.model.path}/`.replace(/^\/+/, '') : '');
          const reply = await requestAPI<ForkReply>('fork', {
            method: 'POST',
            body: JSON.stringify({ spec, path, bump: args.bump ?? 'minor', force: !!args.force })
          });
          for (const directory of reply.directories) {
            await serviceManager.contents.save(directory, { type: 'directory' });
          }
          await serviceManager.contents.save(reply.path, {
            type: 'notebook',
            format: 'json',
            content: reply.content
          });
          const widget = docManager.openOrReveal(reply.path, 'default', { name: reply.kernel.name });
          return { path: reply.path, name: reply.name, from: reply.from, version: reply.version, opened: !!widget };
        } catch (error) {
          await showErrorMessage('Cannot fork', (error as Error).message);
          return undefined;
        }
      }
    });

    palette?.addItem({ command: CommandIDs.openRegistry, category: 'Gilgamesh' });
    palette?.addItem({ command: CommandIDs.fork, category: 'Gilgamesh' });
    palette?.addItem({ command: CommandIDs.openDocs, category: 'Gilgamesh' });

    // The versions the active kernel imported, pushed by the kernel over a comm.
    const model = new ImportsModel();
    if (notebooks) {
      notebooks.widgetAdded.connect((_, nb) => model.track(nb.sessionContext));
      notebooks.forEach(nb => model.track(nb.sessionContext));
    }
    if (statusBar) {
      const item = new ImportsStatus(model);
      const follow = () => {
        const context = notebooks?.currentWidget?.sessionContext;
        item.follow(context?.session?.kernel?.id);
      };
      notebooks?.currentChanged.connect((_, nb) => {
        follow();
        nb?.sessionContext.kernelChanged.connect(follow);
      });
      labShell?.currentChanged.connect(follow);
      statusBar.registerStatusItem('gilgamesh-lab:status', { item, align: 'left', rank: 5 });
      follow();
    }
  }
};

export default plugin;
