import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import * as fs from 'fs';
import * as os from 'os';
import { startServer } from '../server';
import { NodeFileSystem } from './nodeFileSystem';
import { bundledClipFolder } from './bundledTokenizer';

// The Node entry of the language server: a connection over stdio/IPC, the real disk, then the glue.
startServer(createConnection(ProposedFeatures.all), {
  fileSystem: new NodeFileSystem(),
  exists: (p) => fs.existsSync(p),
  home: os.homedir(),
  bundledTokenizer: bundledClipFolder(),
});
