/**
 * What the read phase finds in one specimen, for the write phase.
 *
 * @module
 */
import type { Manifest } from "../specimen/manifest.ts";

export interface Column {
  name: string;
  type: string;
}

export interface MetricFile {
  id: string;
  name: string;
  abs: string;
  rel: string;
  rows: number;
  signature: string;
  columns?: Column[];
  issue?: string;
  source?: string;
  definition?: string;
  /**
   * Set when its union table's column changes some of its values: the
   * report (its relation reads an exact copy instead).
   */
  widened?: string;
  /** A log not compacted: its part files (absolute), read as one table. */
  parts?: string[];
  /**
   * Read as a log's parts (it may be a file now, if its logger closed
   * since): its specimen folder, to list the log again. Such a file is
   * alone in its signature group.
   */
  logDir?: string;
}

export interface TensorRow {
  id: string;
  name: string;
  path: string;
  shape: number[] | null;
  dtype: string | null;
  chunks: number[] | null;
  codecs: string[];
  bytes: number;
  zarrFormat: number;
}

export interface SpecimenRecord {
  id: string;
  rel: string;
  manifest: Manifest;
  createdIso: string | null;
  fingerprint: string;
  /** Labels set after the run (labels.json, outside the seal), sorted. */
  labels: string[];
  /** Whether the specimen is starred (labels.json). */
  starred: boolean;
  issues: string[];
  metricFiles: MetricFile[];
  tensors: TensorRow[];
}
