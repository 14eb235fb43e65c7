import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { ApiConfig } from '../config/api-config';

/** The channels the database's triggers notify (prisma/migrations/…_session_notifications, …_operator_key_revocations). */
const CHANNELS = { events: 'mosaic_session_events', sessions: 'mosaic_sessions', keysRevoked: 'mosaic_operator_keys_revoked' } as const;

const RECONNECT_DELAY_MS = { first: 100, max: 5_000 } as const;

/** What the live streams of this API instance want to hear. */
export interface NotificationListener {
  /** The session has new stored events. */
  sessionEvents(sessionId: string): void;
  /** The session was created or changed in what a live list shows. */
  sessionChanged(sessionId: string): void;
  /** Notifications may have been missed (the connection was lost): read everything again. */
  resync(): void;
}

/** What the guard of this instance's streams wants to hear: which operator keys were revoked. */
export interface KeyRevocationListener {
  keyRevoked(keyId: string): void;
  /** Revocations may have been missed (the connection was lost): find them out. */
  resync(): Promise<void>;
}

/**
 * The wake-ups of this API instance's live streams: PostgreSQL's
 * LISTEN/NOTIFY on a connection of its own, outside the pool (a LISTEN
 * holds its connection for good). Whichever instance stored an event, every
 * instance hears of it. A lost connection is reopened with backoff, and the
 * listeners then read everything again, since what was notified meanwhile is gone.
 * Revoked operator keys come the same way, so that every instance ends their streams.
 */
@Injectable()
export class SessionNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionNotifications.name);
  private readonly listeners = new Set<NotificationListener>();
  private readonly revocationListeners = new Set<KeyRevocationListener>();
  private client: Client | undefined;
  private reconnecting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly config: ApiConfig) {}

  listen(listener: NotificationListener): void {
    this.listeners.add(listener);
  }

  listenForRevocations(listener: KeyRevocationListener): void {
    this.revocationListeners.add(listener);
  }

  async onModuleInit(): Promise<void> {
    this.client = await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.reconnecting;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ connectionString: this.config.databaseUrl });
    client.on('notification', (message) => {
      if (message.payload === undefined) return;
      if (message.channel === CHANNELS.keysRevoked) {
        for (const listener of this.revocationListeners) listener.keyRevoked(message.payload);
        return;
      }
      for (const listener of this.listeners) {
        if (message.channel === CHANNELS.events) listener.sessionEvents(message.payload);
        else listener.sessionChanged(message.payload);
      }
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNELS.events}; LISTEN ${CHANNELS.sessions}; LISTEN ${CHANNELS.keysRevoked}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private lost(client: Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    // The lost connection is dropped; how its end goes does not matter.
    void client.end().catch(() => undefined);
    this.logger.warn('lost the database connection that carries live-stream wake-ups; reconnecting');
    this.reconnecting = this.reconnect().finally(() => (this.reconnecting = undefined));
  }

  private async reconnect(): Promise<void> {
    for (let delay: number = RECONNECT_DELAY_MS.first; !this.closed; delay = Math.min(delay * 2, RECONNECT_DELAY_MS.max)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.closed) return;
      let client: Client;
      try {
        client = await this.connect();
      } catch {
        continue;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.logger.log('live-stream wake-ups are back');
      for (const listener of this.listeners) listener.resync();
      for (const listener of this.revocationListeners) {
        listener
          .resync()
          .catch((error: unknown) => this.logger.warn(`checking for revoked operator keys failed: ${(error as Error).message}`));
      }
      return;
    }
  }
}
