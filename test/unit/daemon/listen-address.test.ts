import { describe, expect, it } from 'vitest';
import { ListenAddressError, parseListenAddress } from '../../../src/daemon/listen-address.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:80', '0.0.0.0', 80],
    ['localhost:3000', 'localhost', 3000],
    [':8080', '127.0.0.1', 8080],
    ['8080', '127.0.0.1', 8080],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['[::1]:9000', '::1', 9000],
    ['[::]:443', '::', 443],
    ['  127.0.0.1:65535  ', '127.0.0.1', 65535],
  ])('%j → %s port %d', (value, host, port) => {
    expect(parseListenAddress(value, '--listen')).toEqual({ host, port });
  });

  it.each([
    '',
    '127.0.0.1',
    '127.0.0.1:',
    '127.0.0.1:65536',
    '127.0.0.1:http',
    '::1:8080',
    'a:b:8080',
    '127.0.0.1:-1',
    '123456',
  ])('refuses %j', (value) => {
    expect(() => parseListenAddress(value, '--listen')).toThrow(ListenAddressError);
  });

  it('names the flag and the value in its error', () => {
    expect(() => parseListenAddress('nope', '--api-listen')).toThrow(
      '--api-listen: expected HOST:PORT such as 127.0.0.1:8080 (port 0 picks a free one), got "nope"',
    );
  });
});
