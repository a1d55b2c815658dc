// What the rest of Luma uses of the console: its routes (api/server.ts) and its session
// check and open paths (api/auth.ts).
export { registerConsole, type ConsoleOptions } from './routes.js';
export { ConsoleSessions } from './session.js';
export { isConsoleOpenPath } from './open-paths.js';
