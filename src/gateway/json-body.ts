// JSON request bodies, parsed exactly as fastify's default parser does (size limit, prototype
// poisoning refused), with the bytes kept on the request: sampling hands the client's body to its
// worker as those bytes instead of serialising the parsed object again on the request thread.
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body as received; null for other content types. */
    jsonBodyBytes: Buffer | null;
  }
}

export function parseJsonKeepingBytes(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.decorateRequest('jsonBodyBytes', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    req.jsonBodyBytes = body as Buffer;
    // The default parser takes a Buffer as well as a string (secure-json-parse decodes it).
    parse(req, body as unknown as string, done);
  });
}
