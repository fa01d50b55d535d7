/**
 * What a build tells the person watching: each step, whether it came from the
 * cache, how long it took, and the output of every RUN. Three styles:
 *
 * "classic" — docker's legacy builder (what `docker build` prints), plus the
 * time of each step:
 *   Step 3/6 : RUN chmod +x /www/cgi-bin/hello
 *    ---> Running in 4a5b6c7d8e9f
 *   <the command's output>
 *   Removing intermediate container 4a5b6c7d8e9f
 *    ---> 9e8d7c6b5a4f (0.31s)
 *
 * "plain" — BuildKit's `--progress plain`, one numbered block per step,
 * output lines prefixed with the step number and the seconds since it began:
 *   #4 [3/6] RUN chmod +x /www/cgi-bin/hello
 *   #4 0.105 some output
 *   #4 DONE 0.3s
 *
 * "quiet" — nothing (`-q`: only the image ID, which the API route writes).
 *
 * Usage:
 *   const r = new Reporter("classic", { write: (s) => out.write({ stream: s }), progress: (e) => out.progress(e) });
 *   const s = r.step({ index: 1, total: 3, stage: "stage-0", text: "FROM busybox" });
 *   s.done(image.id);
 */
import type { OutputChunk } from "./runner.ts";
import { shortId } from "./state.ts";

export type OutputStyle = "classic" | "plain" | "quiet";

/** A pull's progress, shaped as the API's ProgressEvent. */
export interface PullProgress {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export interface OutputSink {
  /** Text for the user, as is (docker's `{"stream": …}` messages). */
  write(text: string): void;
  /** Pull progress while a base image is fetched. */
  progress?(e: PullProgress): void;
}

export interface StepInfo {
  /** 1-based, over every step of every stage built. */
  index: number;
  total: number;
  /** The stage's name, or stage-<n>. */
  stage: string;
  /** The instruction as written. */
  text: string;
}

export interface StepReporter {
  note(text: string): void;
  running(containerId: string): void;
  output(chunk: OutputChunk): void;
  removed(containerId: string): void;
  /** Ends the step: its result came from the cache. */
  cached(id: string): void;
  /** Ends the step with the image it made (or the base image, for FROM). */
  done(id: string): void;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

export class Reporter {
  private blocks = 0;
  private readonly started = Date.now();

  constructor(
    readonly style: OutputStyle,
    private readonly sink: OutputSink,
  ) {}

  /** Whether RUN output reaches the user (else an error must carry it). */
  get showsOutput(): boolean {
    return this.style !== "quiet";
  }

  /** A line of its own (a warning). */
  line(text: string): void {
    if (this.style !== "quiet") this.sink.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  progress(e: PullProgress): void {
    if (this.style === "classic") this.sink.progress?.(e);
    else if (this.style === "plain" && e.current === undefined)
      this.sink.write(`#${this.blocks} ${e.id !== undefined ? `${e.id}: ` : ""}${e.status}\n`);
  }

  step(info: StepInfo): StepReporter {
    const t0 = Date.now();
    const n = ++this.blocks;
    const write = (s: string) => {
      if (this.style !== "quiet") this.sink.write(s);
    };
    if (this.style === "classic") {
      write(`Step ${info.index}/${info.total} : ${info.text}\n`);
      let partial = false;
      return {
        note: (text) => write(` ${text}\n`),
        running: (id) => write(` ---> Running in ${id.slice(0, 12)}\n`),
        output: (c) => {
          const s = c.data.toString("utf8");
          write(s);
          partial = !s.endsWith("\n");
        },
        removed: (id) => {
          write(`${partial ? "\n" : ""}Removing intermediate container ${id.slice(0, 12)}\n`);
          partial = false;
        },
        cached: (id) => write(` ---> Using cache\n ---> ${shortId(id)} (${seconds(Date.now() - t0)})\n`),
        done: (id) => write(` ---> ${shortId(id)} (${seconds(Date.now() - t0)})\n`),
      };
    }
    write(`\n#${n} [${info.stage} ${info.index}/${info.total}] ${info.text}\n`);
    let pending = "";
    const flush = (all: boolean) => {
      const lines = pending.split("\n");
      pending = all ? "" : (lines.pop() ?? "");
      const at = ((Date.now() - t0) / 1000).toFixed(3);
      for (const l of all ? lines.filter((x, i) => x !== "" || i < lines.length - 1) : lines)
        write(`#${n} ${at} ${l}\n`);
    };
    return {
      note: (text) => write(`#${n} ${text}\n`),
      running: () => undefined,
      output: (c) => {
        pending += c.data.toString("utf8");
        flush(false);
      },
      removed: () => flush(true),
      cached: () => write(`#${n} CACHED\n`),
      done: () => {
        flush(true);
        write(`#${n} DONE ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      },
    };
  }

  /** The end: the image, its names, the whole time. */
  finished(id: string, names: string[]): void {
    if (this.style !== "plain") return;
    const n = ++this.blocks;
    this.sink.write(`\n#${n} exporting to image\n#${n} writing image ${id} done\n`);
    for (const name of names) this.sink.write(`#${n} naming to ${name} done\n`);
    this.sink.write(`#${n} DONE ${((Date.now() - this.started) / 1000).toFixed(1)}s\n`);
  }
}
