import { REQUEST_BODY_UNREADABLE } from '../errors.js';

/** A body that cannot be validated at all: missing, not JSON, not an object, wrong media type. */
export class UnreadableBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableBodyError';
  }

  body(): { group: string; code: number; message: string } {
    return { ...REQUEST_BODY_UNREADABLE, message: this.message };
  }
}
