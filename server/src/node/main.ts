import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from '../server';

// The Node entry of the language server: a connection over stdio/IPC, then the shared glue.
startServer(createConnection(ProposedFeatures.all));
