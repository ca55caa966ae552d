/**
 * The file a server started with authentication and no user writes its first admin to, in the
 * data directory. Its own module so the CLI can read it without loading the auth service.
 */
export const CREDENTIALS_FILE = 'admin-credentials.json';

export interface BootstrapCredentials {
  user: string;
  password: string;
  apiKey: string;
}
