import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { COMM_TARGET, ImportedVersion, importsOf, statusText } from './imports';

export const STATUS_ID = 'gilgamesh-status';

/**
 * The versions each kernel imported, as its IPython extension pushes them over the comm
 * `gilgamesh.imports` (opened by the kernel; the frontend never executes code to ask).
 */
export class ImportsModel {
  private readonly byKernel = new Map<string, ImportedVersion[]>();
  private readonly registered = new WeakSet<Kernel.IKernelConnection>();
  private readonly _changed = new Signal<this, string>(this);

  get changed(): ISignal<this, string> {
    return this._changed;
  }

  importsOf(kernelId: string | undefined): ImportedVersion[] {
    return (kernelId && this.byKernel.get(kernelId)) || [];
  }

  private set(kernelId: string, imports: ImportedVersion[]): void {
    this.byKernel.set(kernelId, imports);
    this._changed.emit(kernelId);
  }

  /** Listen to a session's kernels, this one and each it changes to. */
  track(sessionContext: ISessionContext): void {
    const attach = () => {
      const kernel = sessionContext.session?.kernel;
      if (kernel) {
        this.attach(kernel);
      }
    };
    sessionContext.kernelChanged.connect(attach);
    attach();
  }

  /** Register the comm target on one kernel connection (once). */
  attach(kernel: Kernel.IKernelConnection): void {
    if (this.registered.has(kernel) || kernel.isDisposed) {
      return;
    }
    this.registered.add(kernel);
    const id = kernel.id;
    kernel.registerCommTarget(COMM_TARGET, (comm, openMsg) => {
      this.set(id, importsOf(openMsg.content.data));
      comm.onMsg = msg => this.set(id, importsOf(msg.content.data));
    });
    kernel.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        this.set(id, []); // a new process has imported nothing yet
      }
    });
    kernel.disposed.connect(() => this.byKernel.delete(id));
  }
}

/** The status bar item: the versions the active notebook's kernel imported. */
export class ImportsStatus extends Widget {
  private kernelId: string | undefined;

  constructor(private readonly model: ImportsModel) {
    super();
    this.id = STATUS_ID;
    this.addClass('gilgamesh-Status');
    this.addClass('jp-StatusBar-TextItem');
    model.changed.connect((_, id) => {
      if (id === this.kernelId) {
        this.update();
      }
    });
    this.update();
  }

  /** Show the kernel of this session (the active notebook's). */
  follow(kernelId: string | undefined): void {
    this.kernelId = kernelId;
    this.update();
  }

  protected onUpdateRequest(): void {
    const imports = this.model.importsOf(this.kernelId);
    this.node.textContent = statusText(imports);
    this.node.title = imports.length
      ? imports.map(i => `gilgamesh.api.${i.name} ${i.version}${i.specs?.length ? ` (as ${i.specs.join(', ')})` : ''}`).join('\n')
      : 'The versions of Gilgamesh APIs the active kernel imported';
    this.node.dataset.imports = imports.map(i => `${i.name}@${i.version}`).join(' ');
  }
}
