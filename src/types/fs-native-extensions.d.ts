// The part of fs-native-extensions Luma uses (the package ships no types). On Linux
// tryLock takes an open-file-description lock (fcntl F_OFD_SETLK) on the whole file.
declare module 'fs-native-extensions' {
  /** True when the lock was granted, false when another open file description holds it. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
  export function unlock(fd: number): void;
}
