// The API's errors: application/problem+json (RFC 9457) with a message a
// person can act on. `detail` says what was wrong, `hint` what to do, and
// `field` names the request field when one is to blame. The capture
// library's UserErrors (a filter libpcap refuses, a point that does not
// exist) become 400 problems carrying their message and hint.
import { UserError } from '../errors';

export interface ProblemBody {
  type: 'about:blank';
  /** The HTTP status phrase: "Bad Request". */
  title: string;
  status: number;
  /** What was wrong. */
  detail: string;
  /** What to do about it. */
  hint?: string;
  /** The request field to blame: "filter", "dump", "rotation.files". */
  field?: string;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'Problem';
  }

  body(): ProblemBody {
    return {
      type: 'about:blank',
      title: STATUS_TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.field ? { field: this.field } : {}),
    };
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A UserError from the library as a 400 problem (`field` when the caller knows which field it judged). */
export function fromUserError(e: UserError, field?: string): Problem {
  return new Problem(400, e.message, e.hint, field);
}

/** Runs `fn`, turning a UserError into a 400 problem on `field`. */
export async function blaming<T>(field: string | undefined, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError) throw fromUserError(e, field);
    throw e;
  }
}
