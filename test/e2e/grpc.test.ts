import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { makeCertificate } from '../support/certificates.js';
import { removeInstanceContainers, runningContainersOf, testInstance } from '../support/docker.js';
import {
  eventually,
  projectManifest,
  REPO_ROOT,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// A real gRPC service behind Luma (issue 24): Python's grpcio from Debian, on a root made
// by debootstrap and `docker import`ed (scripts/grpc-test-image.sh: minutes the first time
// on a machine, then cached by a content hash), serving test/fixtures/grpc/server.py.
// A stock client (@grpc/grpc-js) calls it through the HTTPS listener of `luma up` (a
// certificate given with --certificates-dir), HTTP/2 end to end: the project says
// `http2: true`, so the proxy speaks h2c to the app. The first call arrives while the
// project is scaled to zero, and so does one after it has idled again.

const HOST = 'grpc.test';
const IMAGE_BUILD_MS = 15 * 60_000;
const identity = (value: Buffer): Buffer => value;

interface UnaryAnswer {
  message: Buffer;
  trailer: grpc.MetadataValue[];
}

function unary(client: grpc.Client, name: string): Promise<UnaryAnswer> {
  return new Promise((resolve, reject) => {
    let message: Buffer | undefined;
    const call = client.makeUnaryRequest(
      '/luma.test.Greeter/Hello',
      identity,
      identity,
      Buffer.from(name),
      new grpc.Metadata(),
      { deadline: Date.now() + 60_000 },
      (error, value) => {
        if (error) reject(error);
        else message = value;
      },
    );
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK && message) resolve({ message, trailer: status.metadata.get('x-served-by') });
    });
  });
}

function serverStream(client: grpc.Client, count: number): Promise<{ messages: string[]; status: grpc.StatusObject }> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const call = client.makeServerStreamRequest(
      '/luma.test.Greeter/Count',
      identity,
      identity,
      Buffer.from(String(count)),
      new grpc.Metadata(),
      { deadline: Date.now() + 60_000 },
    );
    call.on('data', (message: Buffer) => messages.push(message.toString()));
    call.on('error', reject);
    call.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}

describe('a gRPC service (grpcio) through Luma over TLS, HTTP/2 end to end', () => {
  const instance = testInstance('grpc');
  let dir: string;
  let luma: LumaProcess;
  let image: string;
  let ca: string;
  let client: grpc.Client;

  beforeAll(async () => {
    const built = await promisify(execFile)(path.join(REPO_ROOT, 'scripts/grpc-test-image.sh'), {
      timeout: IMAGE_BUILD_MS,
    });
    image = built.stdout.trim();
    dir = await tempDir('grpc');
    const certificatesDir = path.join(dir, 'certificates');
    const pem = await makeCertificate({
      hosts: [HOST],
      notBefore: Date.now() - 60_000,
      notAfter: Date.now() + 86_400_000,
    });
    ca = pem.certPem;
    await mkdir(certificatesDir, { recursive: true });
    await mkdir(path.join(dir, 'manifests'));
    await writeFile(path.join(certificatesDir, `${HOST}.crt`), pem.certPem);
    await writeFile(path.join(certificatesDir, `${HOST}.key`), pem.keyPem, { mode: 0o600 });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config: await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' }),
      args: ['--https-listen', '127.0.0.1:0', '--certificates-dir', certificatesDir],
    });
  }, IMAGE_BUILD_MS + 60_000);

  afterAll(async () => {
    client?.close();
    await luma?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function phase(): Promise<string | undefined> {
    const result = await runCli(['get', 'project', 'greeter', '-o', 'json'], { api: luma.api });
    return (JSON.parse(result.stdout) as ProjectObject).status?.phase;
  }

  it('answers unary and server-streaming calls from a stock client, the first while scaled to zero', async () => {
    const manifest =
      projectManifest('greeter', { image, hostnames: [HOST], idleTimeout: '3s', tls: true }) + '  http2: true\n';
    const file = path.join(dir, 'greeter.yaml');
    await writeFile(file, manifest);
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(async () => (await phase()) === 'Idle', 20_000, 'Idle after apply');
    expect(await runningContainersOf(instance, 'greeter')).toHaveLength(0);

    client = new grpc.Client(`127.0.0.1:${luma.httpsPort}`, grpc.credentials.createSsl(Buffer.from(ca)), {
      'grpc.ssl_target_name_override': HOST,
      'grpc.default_authority': HOST,
    });
    // Cold start: the call is held while the container starts and passes its h2c readiness probe.
    const first = await unary(client, 'luma');
    expect(first.message.toString()).toBe('hello luma');
    expect(first.trailer).toEqual(['grpcio']);
    expect(await runningContainersOf(instance, 'greeter')).toHaveLength(1);

    const streamed = await serverStream(client, 5);
    expect(streamed.messages).toEqual(['1', '2', '3', '4', '5']);
    expect(streamed.status.code).toBe(grpc.status.OK);
    expect(streamed.status.metadata.get('x-served-by')).toEqual(['grpcio']);

    // A call for a method the service lacks gets the app's own status, from its trailers.
    const missing = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest('/luma.test.Greeter/Nope', identity, identity, Buffer.from(''), (error) =>
        resolve(error as grpc.ServiceError),
      ),
    );
    expect(missing.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('starts it again for a call after it has idled back to zero', async () => {
    await eventually(async () => (await phase()) === 'Idle', 30_000, 'Idle after the idle timeout');
    expect(await runningContainersOf(instance, 'greeter')).toHaveLength(0);
    const [unaryAnswer, streamed] = await Promise.all([unary(client, 'again'), serverStream(client, 3)]);
    expect(unaryAnswer.message.toString()).toBe('hello again');
    expect(streamed.messages).toEqual(['1', '2', '3']);
    expect(await runningContainersOf(instance, 'greeter')).toHaveLength(1);
  });
});
