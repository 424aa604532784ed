/**
 * The JSON body parser. Fastify's own folds every failure into one "invalid JSON" error; this one
 * tells an empty body, broken JSON and prototype-poisoning keys apart, so each gets its own
 * message. secure-json-parse refuses `__proto__` and `constructor.prototype` keys, which could
 * otherwise reach object prototypes later on.
 */
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { UnreadableBodyError } from './request-errors.js';

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(new UnreadableBodyError('The request body is missing.'), undefined);
      return;
    }
    try {
      done(null, secureJson.parse(text, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      const poisoned = error instanceof SyntaxError && /prototype/.test(error.message);
      done(
        new UnreadableBodyError(
          poisoned
            ? 'The request body must not contain __proto__ or constructor.prototype keys.'
            : 'The request body is not valid JSON.',
        ),
        undefined,
      );
    }
  });
}
