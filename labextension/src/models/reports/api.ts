import { requestAPI } from '../../common/api';
import { type RemoteModel, segment } from '../../common/remotemodel';
import {
  type IReport,
  type IReportsResponse,
  type IReportSummary
} from '../../tokens';

/**
 * How many reports of a model are fetched.
 */
const REPORTS_PER_MODEL = 200;

/**
 * Epoch milliseconds of a report's `created` (ISO 8601 or epoch seconds).
 */
export function createdAt(report: { created: number | string }): number {
  return typeof report.created === 'number'
    ? report.created * 1000
    : Date.parse(report.created) || 0;
}

/**
 * The query (`reports?q=`) for a model's reports: the name quoted, as the
 * server splits the query like a shell.
 */
export function modelQuery(name: string): string {
  return `model:"${name.replace(/[\\"]/g, c => `\\${c}`)}"`;
}

/**
 * The reports of a model, newest first.
 */
export async function modelReports(
  name: string,
  request: RemoteModel.RequestFunction = requestAPI
): Promise<IReportSummary[]> {
  const reply = await request<IReportsResponse>(
    `reports?q=${encodeURIComponent(modelQuery(name))}&limit=${REPORTS_PER_MODEL}`
  );
  const reports = Array.isArray(reply?.reports) ? reply.reports : [];
  return reports
    .filter(r => r.model === name)
    .sort((a, b) => createdAt(b) - createdAt(a));
}

/**
 * A report (`report.json`).
 */
export function fetchReport(
  id: string,
  request: RemoteModel.RequestFunction = requestAPI
): Promise<IReport> {
  return request<IReport>(`reports/${segment(id)}`);
}
